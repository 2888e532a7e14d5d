package wire

import "strconv"

// MessageType is the 16-bit type code in a frame header.
type MessageType uint16

// Control messages (0x0000-0x03FF).
const (
	TypeStart                   MessageType = 0x0000
	TypeSuspension              MessageType = 0x0001
	TypeError                   MessageType = 0x0002
	TypeEnd                     MessageType = 0x0003
	TypeCommandAck              MessageType = 0x0004
	TypeProposeRunCompletion    MessageType = 0x0005
	TypeAwaitingOn              MessageType = 0x0006
	TypeProposeRunCompletionAck MessageType = 0x0007
)

// Commands (0x0400-0x7FFF). The journal stores these as sent by the SDK.
const (
	TypeInputCommand               MessageType = 0x0400
	TypeOutputCommand              MessageType = 0x0401
	TypeGetLazyStateCommand        MessageType = 0x0402
	TypeSetStateCommand            MessageType = 0x0403
	TypeClearStateCommand          MessageType = 0x0404
	TypeClearAllStateCommand       MessageType = 0x0405
	TypeGetLazyStateKeysCommand    MessageType = 0x0406
	TypeGetEagerStateCommand       MessageType = 0x0407
	TypeGetEagerStateKeysCommand   MessageType = 0x0408
	TypeGetPromiseCommand          MessageType = 0x0409
	TypePeekPromiseCommand         MessageType = 0x040A
	TypeCompletePromiseCommand     MessageType = 0x040B
	TypeSleepCommand               MessageType = 0x040C
	TypeCallCommand                MessageType = 0x040D
	TypeOneWayCallCommand          MessageType = 0x040E
	TypeSendSignalCommand          MessageType = 0x0410
	TypeRunCommand                 MessageType = 0x0411
	TypeAttachInvocationCommand    MessageType = 0x0412
	TypeGetInvocationOutputCommand MessageType = 0x0413
	TypeCompleteAwakeableCommand   MessageType = 0x0414
)

// Notifications (0x8000-0xFBFF). All share the NotificationTemplate layout,
// see Notification.
const (
	TypeGetLazyStateCompletion        MessageType = 0x8002
	TypeGetLazyStateKeysCompletion    MessageType = 0x8006
	TypeGetPromiseCompletion          MessageType = 0x8009
	TypePeekPromiseCompletion         MessageType = 0x800A
	TypeCompletePromiseCompletion     MessageType = 0x800B
	TypeSleepCompletion               MessageType = 0x800C
	TypeCallCompletion                MessageType = 0x800D
	TypeCallInvocationIDCompletion    MessageType = 0x800E
	TypeRunCompletion                 MessageType = 0x8011
	TypeAttachInvocationCompletion    MessageType = 0x8012
	TypeGetInvocationOutputCompletion MessageType = 0x8013
	TypeSignalNotification            MessageType = 0xFBFF
)

const (
	firstCommandType      MessageType = 0x0400
	firstNotificationType MessageType = 0x8000
	firstCustomEntryType  MessageType = 0xFC00
)

// IsCommand reports whether t lies in the command range 0x0400-0x7FFF.
func (t MessageType) IsCommand() bool {
	return t >= firstCommandType && t < firstNotificationType
}

// IsNotification reports whether t lies in the notification range 0x8000-0xFBFF.
func (t MessageType) IsNotification() bool {
	return t >= firstNotificationType && t < firstCustomEntryType
}

// IsCustomEntry reports whether t lies in the custom entry range
// 0xFC00-0xFFFF. Custom entries are opaque to the server: it stores and
// replays them.
func (t MessageType) IsCustomEntry() bool {
	return t >= firstCustomEntryType
}

// IsJournalEntry reports whether frames of type t belong to the journal
// (commands, notifications and custom entries).
func (t MessageType) IsJournalEntry() bool {
	return t >= firstCommandType
}

// Known reports whether t is a message type of protocol V5-V7 or a custom
// entry. Frames of any other type are rejected by Decoder and DecodeFrames,
// as Restate and the SDKs do.
func (t MessageType) Known() bool {
	switch t {
	case TypeStart, TypeSuspension, TypeError, TypeEnd, TypeCommandAck,
		TypeProposeRunCompletion, TypeAwaitingOn, TypeProposeRunCompletionAck,
		TypeInputCommand, TypeOutputCommand, TypeGetLazyStateCommand, TypeSetStateCommand,
		TypeClearStateCommand, TypeClearAllStateCommand, TypeGetLazyStateKeysCommand,
		TypeGetEagerStateCommand, TypeGetEagerStateKeysCommand, TypeGetPromiseCommand,
		TypePeekPromiseCommand, TypeCompletePromiseCommand, TypeSleepCommand, TypeCallCommand,
		TypeOneWayCallCommand, TypeSendSignalCommand, TypeRunCommand,
		TypeAttachInvocationCommand, TypeGetInvocationOutputCommand, TypeCompleteAwakeableCommand,
		TypeGetLazyStateCompletion, TypeGetLazyStateKeysCompletion, TypeGetPromiseCompletion,
		TypePeekPromiseCompletion, TypeCompletePromiseCompletion, TypeSleepCompletion,
		TypeCallCompletion, TypeCallInvocationIDCompletion, TypeRunCompletion,
		TypeAttachInvocationCompletion, TypeGetInvocationOutputCompletion, TypeSignalNotification:
		return true
	}
	return t.IsCustomEntry()
}

var typeNames = map[MessageType]string{
	TypeStart:                         "Start",
	TypeSuspension:                    "Suspension",
	TypeError:                         "Error",
	TypeEnd:                           "End",
	TypeCommandAck:                    "CommandAck",
	TypeProposeRunCompletion:          "ProposeRunCompletion",
	TypeAwaitingOn:                    "AwaitingOn",
	TypeProposeRunCompletionAck:       "ProposeRunCompletionAck",
	TypeInputCommand:                  "Input",
	TypeOutputCommand:                 "Output",
	TypeGetLazyStateCommand:           "GetLazyState",
	TypeSetStateCommand:               "SetState",
	TypeClearStateCommand:             "ClearState",
	TypeClearAllStateCommand:          "ClearAllState",
	TypeGetLazyStateKeysCommand:       "GetLazyStateKeys",
	TypeGetEagerStateCommand:          "GetEagerState",
	TypeGetEagerStateKeysCommand:      "GetEagerStateKeys",
	TypeGetPromiseCommand:             "GetPromise",
	TypePeekPromiseCommand:            "PeekPromise",
	TypeCompletePromiseCommand:        "CompletePromise",
	TypeSleepCommand:                  "Sleep",
	TypeCallCommand:                   "Call",
	TypeOneWayCallCommand:             "OneWayCall",
	TypeSendSignalCommand:             "SendSignal",
	TypeRunCommand:                    "Run",
	TypeAttachInvocationCommand:       "AttachInvocation",
	TypeGetInvocationOutputCommand:    "GetInvocationOutput",
	TypeCompleteAwakeableCommand:      "CompleteAwakeable",
	TypeGetLazyStateCompletion:        "GetLazyStateCompletion",
	TypeGetLazyStateKeysCompletion:    "GetLazyStateKeysCompletion",
	TypeGetPromiseCompletion:          "GetPromiseCompletion",
	TypePeekPromiseCompletion:         "PeekPromiseCompletion",
	TypeCompletePromiseCompletion:     "CompletePromiseCompletion",
	TypeSleepCompletion:               "SleepCompletion",
	TypeCallCompletion:                "CallCompletion",
	TypeCallInvocationIDCompletion:    "CallInvocationIdCompletion",
	TypeRunCompletion:                 "RunCompletion",
	TypeAttachInvocationCompletion:    "AttachInvocationCompletion",
	TypeGetInvocationOutputCompletion: "GetInvocationOutputCompletion",
	TypeSignalNotification:            "Signal",
}

// String returns the short message name, e.g. "Call" or "SleepCompletion".
// Custom entries print as "Custom(0xfc01)", unknown codes as "Unknown(0x1234)".
func (t MessageType) String() string {
	if name := typeNames[t]; name != "" {
		return name
	}
	prefix := "Unknown(0x"
	if t.IsCustomEntry() {
		prefix = "Custom(0x"
	}
	return prefix + strconv.FormatUint(uint64(t), 16) + ")"
}
