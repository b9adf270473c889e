// One execution of a state machine on aws-local-stepfunctions, the second ASL interpreter.
//
//   node run.mjs <dir holding node_modules>   (the Python bridge, infra/local/interpreter.py)
//
// Why a bridge at all: the library runs every Task itself, calling Lambda with its own client
// and knowing no service integration; the product's Tasks are `lambda:invoke` and
// `events:putEvents`. Each Task state is therefore overridden (taskResourceLocalHandlers) by a
// call out to the Python side, which makes the call on the local cloud as Step Functions would
// and answers with the service's result or the error Step Functions would name.
//
// Protocol: JSON lines. stdin: first {definition, input, context}, then one answer per request,
// {id, result} or {id, error: {name, cause}}. stdout: {type: "task", id, state, resource, input}
// for each Task attempt, {type: "event", event} for each entry of the library's event log, and
// {type: "end"} last. Nothing else is written to stdout.
import { createInterface } from "node:readline";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// The library declares Node >= 22 and uses two things older Nodes lack. Without the first, every
// Task state fails at once with a TypeError (Node 20); the second is missing before Node 20.3
// (Debian 12's nodejs is 18). Each is the standard behaviour, defined only where absent.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((yes, no) => {
      resolve = yes;
      reject = no;
    });
    return { promise, resolve, reject };
  };
}
if (typeof AbortSignal.any !== "function") {
  AbortSignal.any = function any(signals) {
    const controller = new AbortController();
    for (const signal of signals) {
      if (signal.aborted) {
        controller.abort(signal.reason);
        break;
      }
      signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
    }
    return controller.signal;
  };
}

const modules = process.argv[2];
// The ESM entry of the pinned package (its "exports" "import" condition), from the tools folder.
const entry = join(modules, "node_modules", "aws-local-stepfunctions", "build", "main.node.esm.js");
const { StateMachine } = await import(pathToFileURL(entry).href);

const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");
// stdout carries the protocol only: anything a dependency logs goes to stderr.
console.log = console.info = console.debug = console.error;
const pending = new Map();
let nextId = 0;
let started = false;

// Each Task state of the definition (there are no Parallel or Map states to nest them) becomes a
// call to the bridge. A failure comes back as an Error whose name is the error Step Functions
// names and whose message is the Cause: the library matches Retry and Catch on the name and
// puts {Error: name, Cause: message} at a Catch's ResultPath.
function taskHandlers(definition) {
  const handlers = {};
  for (const [state, body] of Object.entries(definition.States)) {
    if (body.Type !== "Task") continue;
    handlers[state] = (input) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        send({ type: "task", id, state, resource: body.Resource, input });
      });
  }
  return handlers;
}

function answer(message) {
  const waiting = pending.get(message.id);
  pending.delete(message.id);
  if (message.error) {
    const error = new Error(message.error.cause);
    error.name = message.error.name;
    waiting.reject(error);
  } else {
    waiting.resolve(message.result);
  }
}

async function run({ definition, input, context }) {
  const machine = new StateMachine(definition, { validationOptions: { checkArn: true } });
  const execution = machine.run(input, {
    context,
    overrides: { taskResourceLocalHandlers: taskHandlers(definition) },
  });
  const logged = (async () => {
    for await (const event of execution.eventLogs) send({ type: "event", event });
  })();
  try {
    await execution.result;
  } catch {
    // An execution that fails says how in its event log (ExecutionFailed).
  }
  await logged;
  send({ type: "end" });
  process.exit(0);
}

const lines = createInterface({ input: process.stdin });
// The bridge went away (its process ended): nothing can answer a Task any more.
lines.on("close", () => process.exit(2));
lines.on("line", (line) => {
  const message = JSON.parse(line);
  if (started) {
    answer(message);
    return;
  }
  started = true;
  run(message).catch((error) => {
    send({ type: "crash", message: String(error && error.stack ? error.stack : error) });
    process.exit(1);
  });
});
