// The chat page of `bamba serve`: plain browser JavaScript, no build step, no outside resources.
"use strict";

const $ = id => document.getElementById(id);
const conversation = []; // {role, content, tool_calls?} as sent to /v1/chat/completions
let controller = null;   // the AbortController of the reply being streamed
let key = sessionStorage.getItem("bamba-api-key");

// A server started with --api-key answers 401: ask for the key once, keep it for this tab, and retry.
async function call(path, init) {
  for (;;) {
    const headers = { "Content-Type": "application/json", ...(key ? { Authorization: "Bearer " + key } : {}) };
    const response = await fetch(path, { ...init, headers });
    if (response.status !== 401) return response;
    const given = prompt(key ? "That API key was refused. API key:" : "This server needs its API key (--api-key):");
    if (!given) throw new Error("the server needs an API key");
    key = given.trim();
    sessionStorage.setItem("bamba-api-key", key);
  }
}

async function errorText(response) {
  try { return (await response.json()).error.message; } catch { return `HTTP ${response.status}`; }
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "message " + role;
  const label = document.createElement("span");
  label.className = "role";
  label.textContent = role;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  div.append(label, body);
  $("messages").append(div);
  div.scrollIntoView({ block: "end" });
  return div;
}

// Each call with a field for its result; "Send results" answers them all (OpenAI wants a result for every call before
// the next reply) as role "tool" messages carrying the call's id, then streams the model's next reply.
function showToolCalls(div, calls) {
  const fields = [];
  for (const c of calls) {
    const block = document.createElement("div");
    block.className = "tool-call";
    block.textContent = `tool call ${c.id ?? ""}: ${c.function.name}(${c.function.arguments})`;
    const field = document.createElement("input");
    field.className = "tool-result";
    field.placeholder = `result of ${c.function.name}`;
    field.dataset.callId = c.id;
    block.append(field);
    div.append(block);
    fields.push(field);
  }
  const send = document.createElement("button");
  send.type = "button";
  send.className = "send-tool-results";
  send.textContent = calls.length > 1 ? "Send results" : "Send result";
  send.addEventListener("click", () => {
    if (controller) return;
    for (const field of fields) {
      conversation.push({ role: "tool", tool_call_id: field.dataset.callId, content: field.value });
      field.disabled = true;
      addMessage("tool", field.value);
    }
    send.remove();
    reply();
  });
  div.append(send);
}

function note(div, text) {
  const span = document.createElement("span");
  span.className = "note";
  span.textContent = text;
  div.append(span);
}

function number(id) {
  const v = $(id).value.trim();
  return v === "" ? undefined : Number(v);
}

function request() {
  const system = $("system").value.trim();
  const body = {
    messages: (system ? [{ role: "system", content: system }] : []).concat(conversation),
    stream: true,
    temperature: number("temperature"),
    top_p: number("top_p"),
    max_tokens: number("max_tokens"),
    seed: number("seed"),
  };
  const tools = $("tools").value.trim();
  if (tools) {
    body.tools = JSON.parse(tools);
    body.tool_choice = $("tool_choice").value;
  }
  return body;
}

// Reads the server-sent events of a streamed reply, calling onChunk with each parsed chunk until [DONE].
async function readEvents(response, onChunk) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      onChunk(chunk);
    }
  }
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("regenerate").disabled = busy || !conversation.some(m => m.role === "assistant");
  $("stop").disabled = !busy;
}

// Streams one assistant reply to the conversation as it stands.
async function reply() {
  showError("");
  const div = addMessage("assistant", "");
  div.classList.add("streaming");
  const text = div.querySelector(".text");
  const message = { role: "assistant", content: "" };
  let finish = null;
  controller = new AbortController();
  setBusy(true);
  try {
    const response = await call("/v1/chat/completions", { method: "POST", body: JSON.stringify(request()), signal: controller.signal });
    if (!response.ok) throw new Error(await errorText(response));
    await readEvents(response, chunk => {
      const choice = chunk.choices[0];
      if (!choice) return;
      if (choice.delta.content) {
        message.content += choice.delta.content;
        text.textContent = message.content;
        div.scrollIntoView({ block: "end" });
      }
      if (choice.delta.tool_calls) {
        message.tool_calls = choice.delta.tool_calls.map(({ index, ...c }) => c);
        showToolCalls(div, message.tool_calls);
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    });
    div.dataset.finish = finish ?? "";
  } catch (e) {
    if (e.name === "AbortError") {
      note(div, "[stopped]");
      div.dataset.finish = "stopped";
    } else {
      showError(e.message);
      div.dataset.finish = "error";
    }
  } finally {
    div.classList.remove("streaming");
    controller = null;
    if (message.content || message.tool_calls) conversation.push(message);
    else div.remove();
    setBusy(false);
  }
}

$("composer").addEventListener("submit", event => {
  event.preventDefault();
  const content = $("input").value.trim();
  if (!content || controller) return;
  $("input").value = "";
  conversation.push({ role: "user", content });
  addMessage("user", content);
  reply();
});

$("input").addEventListener("keydown", event => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

$("stop").addEventListener("click", () => controller?.abort());

$("regenerate").addEventListener("click", () => {
  if (controller || conversation.at(-1)?.role !== "assistant") return;
  conversation.pop();
  [...$("messages").querySelectorAll(".message.assistant")].at(-1)?.remove();
  reply();
});

$("clear").addEventListener("click", () => {
  controller?.abort();
  conversation.length = 0;
  $("messages").replaceChildren();
  setBusy(false);
});

// The Prometheus text of /metrics, summed per metric name over its labels.
function parseMetrics(text) {
  const values = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && !(m[2] ?? "").includes("le=")) values[m[1]] = (values[m[1]] ?? 0) + Number(m[3]);
  }
  return values;
}

async function refreshMetrics() {
  try {
    const m = parseMetrics(await (await fetch("/metrics")).text());
    $("m-running").textContent = m.bamba_running_sequences ?? 0;
    $("m-queued").textContent = m.bamba_queue_length ?? 0;
    $("m-rate").textContent = (m.bamba_tokens_per_second ?? 0).toFixed(1);
    $("m-generated").textContent = m.bamba_generation_tokens_total ?? 0;
    const count = m.bamba_time_to_first_token_seconds_count;
    $("m-ttft").textContent = count ? `${(1000 * m.bamba_time_to_first_token_seconds_sum / count).toFixed(0)} ms` : "–";
  } catch { /* the server is restarting or gone: keep the last numbers */ }
}

async function loadModel() {
  try {
    const response = await call("/v1/models", { method: "GET" });
    if (!response.ok) throw new Error(await errorText(response));
    $("model").textContent = (await response.json()).data[0].id;
  } catch (e) {
    showError(e.message);
  }
}

loadModel();
refreshMetrics();
setInterval(refreshMetrics, 1000);
setBusy(false);
