// A small service written with the Restate TypeScript SDK. test/tssdk registers it with the
// server under test to show the server does not depend on the Go SDK's habits.
//
// Environment:
//   PORT  port to listen on (required)
//   MODE  "bidi" (default): HTTP/2 cleartext, bidirectional streaming;
//         "request-response": HTTP/1.1, the SDK's request/response protocol mode.

// Must be the first import: ESM evaluates imports in order, before this module's body.
import "./polyfill.js";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as restate from "@restatedev/restate-sdk";

const counter = restate.object({
  name: "Counter",
  handlers: {
    // add adds delta to the key's total and returns the new total.
    add: async (ctx, delta) => {
      const total = ((await ctx.get("total")) ?? 0) + delta;
      ctx.set("total", total);
      return total;
    },
    get: restate.handlers.object.shared(async (ctx) => (await ctx.get("total")) ?? 0),
    clear: async (ctx) => {
      ctx.clearAll();
    },
  },
});

const greeter = restate.service({
  name: "Greeter",
  handlers: {
    greet: async (_ctx, name) => `hello ${name}`,
    // callsCounter adds req.delta to Counter/{req.key} through a durable call.
    callsCounter: async (ctx, req) => ctx.objectClient(counter, req.key).add(req.delta),
  },
});

const sleeper = restate.service({
  name: "Sleeper",
  handlers: {
    sleep: async (ctx, ms) => {
      await ctx.sleep(ms);
      return `slept ${ms}`;
    },
  },
});

const awakeableHolder = restate.object({
  name: "AwakeableHolder",
  handlers: {
    // hold parks until someone resolves the awakeable whose id it stored, and returns the value.
    hold: async (ctx) => {
      const { id, promise } = ctx.awakeable();
      ctx.set("id", id);
      const value = await promise;
      return `got ${value}`;
    },
    getId: restate.handlers.object.shared(async (ctx) => (await ctx.get("id")) ?? ""),
  },
});

const signup = restate.workflow({
  name: "Signup",
  handlers: {
    run: async (ctx, email) => {
      ctx.set("status", "waiting");
      const code = await ctx.promise("confirm").get();
      ctx.set("status", "confirmed");
      return `${email} confirmed with ${code}`;
    },
    confirm: async (ctx, code) => {
      await ctx.promise("confirm").resolve(code);
      return "ok";
    },
    status: async (ctx) => (await ctx.get("status")) ?? "unknown",
  },
});

const port = Number.parseInt(process.env.PORT ?? "", 10);
if (!Number.isInteger(port) || port <= 0) {
  console.error("PORT must be set to the port to listen on");
  process.exit(2);
}
const mode = process.env.MODE ?? "bidi";
const services = [greeter, counter, sleeper, awakeableHolder, signup];

let server;
if (mode === "bidi") {
  server = http2.createServer(restate.createEndpointHandler({ services, bidirectional: true }));
} else if (mode === "request-response") {
  server = http.createServer(restate.createEndpointHandler({ services, bidirectional: false }));
} else {
  console.error(`MODE must be "bidi" or "request-response", not ${JSON.stringify(mode)}`);
  process.exit(2);
}
server.listen(port, "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${port} (${mode})`);
});
