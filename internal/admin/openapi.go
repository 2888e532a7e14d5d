package admin

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/restatego/restate/internal/schema"
)

// The admin OpenAPI document is generated from the route table and from the Go types that
// encode requests and responses, so it cannot drift from what the server does.

// componentTypes maps component schema names used in routeDoc to Go types.
var componentTypes = map[string]reflect.Type{
	errSchema:                        reflect.TypeFor[errorResponse](),
	"VersionInformation":             reflect.TypeFor[versionResponse](),
	"ClusterHealthResponse":          reflect.TypeFor[clusterHealthResponse](),
	"ListDeploymentsResponse":        reflect.TypeFor[listDeploymentsResponse](),
	"DetailedDeploymentResponse":     reflect.TypeFor[deploymentResponse](),
	"RegisterDeploymentRequest":      reflect.TypeFor[registerDeploymentRequest](),
	"RegisterDeploymentResponse":     reflect.TypeFor[registerDeploymentResponse](),
	"UpdateDeploymentRequest":        reflect.TypeFor[updateDeploymentRequest](),
	"ListServicesResponse":           reflect.TypeFor[listServicesResponse](),
	"ServiceMetadata":                reflect.TypeFor[serviceMetadata](),
	"HandlerMetadata":                reflect.TypeFor[handlerMetadata](),
	"ListServiceHandlersResponse":    reflect.TypeFor[listHandlersResponse](),
	"ModifyServiceRequest":           reflect.TypeFor[modifyServiceRequest](),
	"ModifyServiceStateRequest":      reflect.TypeFor[modifyServiceStateRequest](),
	"RestartAsNewInvocationResponse": reflect.TypeFor[restartAsNewResponse](),
	"QueryRequest": reflect.TypeFor[struct {
		Query string `json:"query"`
	}](),
}

func (s *Server) adminOpenAPI(w http.ResponseWriter, _ *http.Request, _ params) error {
	writeJSON(w, http.StatusOK, s.adminOpenAPIDocument())
	return nil
}

type object = map[string]any

func (s *Server) adminOpenAPIDocument() object {
	paths := object{}
	for _, rt := range s.routes {
		path := "/" + rt.pattern
		item, _ := paths[path].(object)
		if item == nil {
			item = object{}
			paths[path] = item
		}
		op := object{
			"operationId": rt.doc.operationID,
			"summary":     rt.doc.summary,
			"tags":        []string{rt.doc.tag},
		}
		var parameters []object
		for _, seg := range rt.segs {
			if strings.HasPrefix(seg, "{") {
				parameters = append(parameters, object{
					"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": object{"type": "string"},
				})
			}
		}
		for _, q := range rt.doc.query {
			parameters = append(parameters, object{
				"name": q.name, "in": "query", "required": false, "description": q.description, "schema": object{"type": q.typ},
			})
		}
		if len(parameters) > 0 {
			op["parameters"] = parameters
		}
		if rt.doc.request != "" {
			op["requestBody"] = object{
				"required": true,
				"content":  object{"application/json": object{"schema": ref(rt.doc.request)}},
			}
		}
		responses := object{}
		for code, schemaName := range rt.doc.responses {
			resp := object{"description": http.StatusText(code)}
			if schemaName != "" {
				resp["content"] = object{"application/json": object{"schema": ref(schemaName)}}
			}
			responses[strconv.Itoa(code)] = resp
		}
		op["responses"] = responses
		item[strings.ToLower(rt.method)] = op
	}
	schemas := object{}
	for name, t := range componentTypes {
		schemas[name] = jsonSchemaOf(t)
	}
	return object{
		"openapi": "3.1.0",
		"info": object{
			"title":       "Admin API",
			"version":     s.opts.Version,
			"description": "Administration of a Restate-compatible server: deployments, services, handlers and invocations. Every route is also served under /v2/.",
		},
		"paths":      paths,
		"components": object{"schemas": schemas},
	}
}

func ref(name string) object { return object{"$ref": "#/components/schemas/" + name} }

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// jsonSchemaOf describes how encoding/json renders t.
func jsonSchemaOf(t reflect.Type) object {
	if t == rawMessageType {
		return object{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner := jsonSchemaOf(t.Elem())
		if typ, ok := inner["type"].(string); ok {
			inner["type"] = []string{typ, "null"}
		}
		return inner
	case reflect.String:
		return object{"type": "string"}
	case reflect.Bool:
		return object{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return object{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return object{"type": "number"}
	case reflect.Slice, reflect.Array:
		return object{"type": "array", "items": jsonSchemaOf(t.Elem())}
	case reflect.Map:
		return object{"type": "object", "additionalProperties": jsonSchemaOf(t.Elem())}
	case reflect.Struct:
		props := object{}
		var required []string
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = jsonSchemaOf(f.Type)
			if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer && f.Type.Kind() != reflect.Interface {
				required = append(required, name)
			}
		}
		out := object{"type": "object", "properties": props}
		if len(required) > 0 {
			sort.Strings(required)
			out["required"] = required
		}
		return out
	}
	return object{}
}

// serviceOpenAPIDocument describes how to call svc through the ingress.
func serviceOpenAPIDocument(svc *schema.Service, ingress string) object {
	paths := object{}
	keyed := svc.Ty.HasState()
	errorResponse := object{
		"description": "Error",
		"content": object{"application/json": object{"schema": object{
			"type":       "object",
			"properties": object{"code": object{"type": "integer"}, "message": object{"type": "string"}},
		}}},
	}
	for _, h := range svc.SortedHandlers() {
		if !svc.HandlerPublic(h) {
			continue
		}
		base := "/" + svc.Name
		var params []object
		if keyed {
			base += "/{key}"
			params = append(params, object{"name": "key", "in": "path", "required": true, "schema": object{"type": "string"}})
		}
		base += "/" + h.Name
		params = append(params, object{
			"name": "idempotency-key", "in": "header", "required": false, "schema": object{"type": "string"},
			"description": "Makes the request idempotent: retries with the same key get the same result.",
		})

		call := object{
			"operationId": h.Name,
			"tags":        []string{svc.Name},
			"parameters":  params,
		}
		if h.Documentation != nil && *h.Documentation != "" {
			call["description"] = *h.Documentation
		}
		if body := requestBody(h); body != nil {
			call["requestBody"] = body
		}
		ok := object{"description": "Handler response"}
		if ct := h.Output.ContentType; ct != "" {
			ok["content"] = object{ct: object{"schema": schemaOrAny(h.Output.JSONSchema)}}
		}
		call["responses"] = object{"200": ok, "default": errorResponse}
		paths[base] = object{"post": call}

		send := object{
			"operationId": h.Name + "Send",
			"tags":        []string{svc.Name},
			"parameters": append(append([]object{}, params...), object{
				"name": "delay", "in": "query", "required": false, "schema": object{"type": "string"},
				"description": "Start the invocation after this delay (ISO-8601 or friendly duration, e.g. 10s).",
			}),
			"responses": object{
				"202": object{
					"description": "Invocation accepted",
					"content": object{"application/json": object{"schema": object{
						"type":       "object",
						"properties": object{"invocationId": object{"type": "string"}, "status": object{"type": "string", "enum": []string{"Accepted", "PreviouslyAccepted"}}},
						"required":   []string{"invocationId", "status"},
					}}},
				},
				"default": errorResponse,
			},
		}
		if body := requestBody(h); body != nil {
			send["requestBody"] = body
		}
		paths[base+"/send"] = object{"post": send}
	}
	info := object{"title": svc.Name, "version": strconv.FormatUint(uint64(svc.Revision), 10)}
	if svc.Documentation != nil && *svc.Documentation != "" {
		info["description"] = *svc.Documentation
	}
	doc := object{"openapi": "3.1.0", "info": info, "paths": paths}
	if ingress != "" {
		doc["servers"] = []object{{"url": ingress}}
	}
	return doc
}

func requestBody(h *schema.Handler) object {
	if h.Input.ContentType == "" {
		return nil
	}
	return object{
		"required": !h.Input.AllowEmpty,
		"content":  object{h.Input.ContentType: object{"schema": schemaOrAny(h.Input.JSONSchema)}},
	}
}

func schemaOrAny(raw json.RawMessage) any {
	if len(raw) == 0 {
		return object{}
	}
	return raw
}
