// The demo page: pick a person, see their chats as Telegram would show them, act as them.
// Plain JavaScript, no build step. The page long-polls /demo/api/view for changes.
"use strict";

const state = { people: [], user: null, chat: null, version: null, poll: null };
const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: body instanceof FormData ? {} : { "Content-Type": "application/json" },
    body: body instanceof FormData ? body : JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok || data.ok === false) throw new Error(data.error || response.statusText);
  return data;
}

function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

function fold(text) {
  return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
}

function renderPeople() {
  const query = fold($("people-search").value).trim();
  const list = $("people");
  list.replaceChildren();
  for (const p of state.people) {
    const text = `${p.name} ${p.role} ${p.unit}`;
    if (query && !query.split(/\s+/).every((w) => fold(text).includes(w))) continue;
    const li = document.createElement("li");
    li.className = "person" + (p.user_id === state.user ? " active" : "");
    li.dataset.user = p.user_id;
    li.textContent = p.name;
    const small = document.createElement("small");
    small.textContent = `${p.role} · ${p.unit}`;
    li.append(small);
    li.onclick = () => choosePerson(p.user_id);
    list.append(li);
  }
}

function choosePerson(userId) {
  state.user = userId;
  state.chat = userId;
  const p = state.people.find((x) => x.user_id === userId);
  $("who").textContent = p ? `${p.name} — ${p.role}` : "";
  renderPeople();
  refresh();
}

function chooseChat(chatId) {
  state.chat = chatId;
  refresh();
}

function renderChats(chats) {
  const list = $("chats");
  list.replaceChildren();
  for (const c of chats) {
    const li = document.createElement("li");
    li.className = "chatitem" + (c.id === state.chat ? " active" : "");
    li.dataset.chat = c.id;
    li.textContent = (c.group ? "👥 " : "💬 ") + c.title;
    const small = document.createElement("small");
    small.textContent = c.last;
    li.append(small);
    li.onclick = () => chooseChat(c.id);
    list.append(li);
  }
}

function time(seconds) {
  const d = new Date(seconds * 1000);
  return d.toLocaleString("vi-VN", { timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit" });
}

function renderMessage(m) {
  const div = document.createElement("div");
  div.className = "msg" + (m.sender_id === state.user ? " own" : "") + (m.service ? " service" : "") + (m.pinned ? " pinned" : "");
  div.dataset.id = m.id;
  if (m.service) {
    div.textContent = `${m.sender} đã thêm Trợ lý vào nhóm`;
    return div;
  }
  if (m.sender_id !== state.user) {
    const s = document.createElement("div");
    s.className = "sender";
    s.textContent = m.sender;
    div.append(s);
  }
  if (m.files.length) {
    const files = document.createElement("div");
    files.className = "files";
    for (const f of m.files) {
      const a = document.createElement("a");
      a.href = `/demo/api/file/${encodeURIComponent(f.id)}`;
      a.target = "_blank";
      if (f.kind === "photo") {
        const img = document.createElement("img");
        img.src = a.href;
        img.alt = "ảnh";
        a.append(img);
      } else {
        a.textContent = `📄 ${f.name}`;
        const dl = document.createElement("a");
        dl.href = a.href + "?download=1";
        dl.textContent = " ⬇ Tải về";
        files.append(a, dl, document.createElement("br"));
        continue;
      }
      files.append(a);
    }
    div.append(files);
  }
  const body = document.createElement("div");
  body.className = "body";
  body.innerHTML = m.html; // the bot's own HTML, as Telegram's parser accepted it; user text is escaped
  div.append(body);
  if (m.inline.length) {
    const buttons = document.createElement("div");
    buttons.className = "buttons";
    for (const row of m.inline) {
      const r = document.createElement("div");
      r.className = "row";
      for (const b of row) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = b.text;
        if (b.url) {
          button.onclick = () => window.open(b.url, "_blank");
        } else {
          button.dataset.data = b.callback_data || "";
          button.onclick = () => press(m.id, b.callback_data);
        }
        r.append(button);
      }
      buttons.append(r);
    }
    div.append(buttons);
  }
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = (m.edited ? "đã sửa · " : "") + time(m.date);
  div.append(meta);
  return div;
}

function renderChat(chat) {
  if (!chat) return;
  $("chat-title").textContent = chat.title;
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren(...chat.messages.map(renderMessage));
  if (atBottom || box.dataset.chat !== String(chat.id)) box.scrollTop = box.scrollHeight;
  box.dataset.chat = chat.id;
  const pinned = $("pinned");
  pinned.hidden = !chat.pinned;
  if (chat.pinned) {
    pinned.textContent = "📌 " + (chat.pinned.html || "").replace(/<[^>]+>/g, "").slice(0, 120);
    pinned.onclick = () => box.querySelector(`.msg[data-id="${chat.pinned.id}"]`)?.scrollIntoView();
  }
  const kb = $("keyboard");
  kb.replaceChildren();
  for (const row of chat.keyboard || []) {
    const r = document.createElement("div");
    r.className = "row";
    for (const b of row) {
      const text = typeof b === "string" ? b : b.text;
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = text;
      button.onclick = () => (b.request_contact ? shareContact() : sendText(text));
      r.append(button);
    }
    kb.append(r);
  }
}

async function refresh() {
  if (state.poll) state.poll.abort();
  state.version = null;
  loop();
}

async function loop() {
  const controller = new AbortController();
  state.poll = controller;
  while (state.poll === controller) {
    const params = new URLSearchParams();
    if (state.user) params.set("user", state.user);
    if (state.chat) params.set("chat", state.chat);
    if (state.version !== null) params.set("version", state.version);
    try {
      const view = await (await fetch(`/demo/api/view?${params}`, { signal: controller.signal })).json();
      if (state.poll !== controller) return;
      state.version = view.version;
      $("clock").textContent = view.clock;
      renderChats(view.chats);
      renderChat(view.chat);
    } catch (err) {
      if (controller.signal.aborted) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function sendText(text) {
  if (!state.user || !text) return;
  try {
    await api("/demo/api/send", { user: state.user, chat: state.chat, text });
  } catch (err) { toast(err.message); }
}

async function shareContact() {
  const p = state.people.find((x) => x.user_id === state.user);
  const phone = (p && p.phone) || prompt("Số điện thoại:");
  if (!phone) return;
  try {
    await api("/demo/api/send", { user: state.user, chat: state.chat, contact: phone });
  } catch (err) { toast(err.message); }
}

async function press(messageId, data) {
  try {
    const result = await api("/demo/api/press", { user: state.user, chat: state.chat, message_id: messageId, data });
    if (result.answer && result.answer.text) toast(result.answer.text);
  } catch (err) { toast(err.message); }
}

async function upload(file) {
  const form = new FormData();
  form.set("user", state.user);
  form.set("chat", state.chat);
  form.set("caption", $("text").value);
  form.set("file", file, file.name);
  $("text").value = "";
  try { await api("/demo/api/upload", form); } catch (err) { toast(err.message); }
}

async function clock(action, at) {
  try {
    const result = await api("/demo/api/clock", { action, at });
    $("clock").textContent = result.clock;
  } catch (err) { toast(err.message); }
}

$("composer").onsubmit = (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  $("text").value = "";
  sendText(text);
};
$("file").onchange = (event) => {
  if (event.target.files[0] && state.user) upload(event.target.files[0]);
  event.target.value = "";
};
$("people-search").oninput = renderPeople;
$("clock-now").onclick = () => clock("now");
$("clock-hour").onclick = () => clock("hour");
$("clock-day").onclick = () => clock("day");
$("clock-set").onclick = () => $("clock-at").value && clock("set", $("clock-at").value);

(async () => {
  state.people = (await api("/demo/api/people")).people;
  renderPeople();
  loop();
})();
