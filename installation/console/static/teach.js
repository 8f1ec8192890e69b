// The console's Teach panel: every mapper output with live bars of what its
// model answers now, and the buttons to teach it: pick a class (or a value,
// a gesture), HOLD to record examples of what the camera sees, delete the
// last take, train. It reads GET /api/teach four times a second and sends
// to /api/teach/... (installation/console/teach.py).
//
// A hold is confirmed every HOLD_RESEND ms while the button is down; letting
// go, the finger sliding off, the page hidden or the piece not answering
// ends it. Should the page vanish without a word, the piece stops recording
// by itself when the confirmations stop.
"use strict";

(() => {
  const POLL = 250;          // ms between two GET /api/teach while shown
  const SLOW_POLL = 3000;    // ms between two while hidden, refused or unanswered
  const HOLD_RESEND = 500;   // ms between two "still holding"

  const $ = (id) => document.getElementById(id);
  const panel = $("teach"), outputs = $("teach-outputs"), hold = $("teach-hold");
  const train = $("teach-train"), remove = $("teach-delete"), said = $("teach-said");
  let teach = null;          // the newest answer of GET /api/teach
  let shape = "";            // the outputs the panel was built for
  let chosen = null;         // { output, value, label }: what the hold records
  let holding = false;       // the button is down here
  let resend = null;         // the timer confirming the hold
  let sending = Promise.resolve();  // record requests go out one after another, in order
  let heard = null;          // the piece's last line, as last shown
  let acted = 0;             // answers to this page's requests (but "still holding") so far
  let timer = null;          // the next poll

  // -- reading the piece --------------------------------------------------------------

  async function poll() {
    let next = POLL;
    const since = acted;
    try {
      const answer = await fetch("/api/teach", { cache: "no-store" });
      const body = await answer.json();
      // A state read before this page's last request was answered is stale
      // (a hold just let go would look like another page's): the next one is not.
      if (since !== acted) next = 0;
      else if (answer.ok) show(body);
      else { absent(body.error || "no mapper here"); next = SLOW_POLL; }
    } catch (e) {
      letGo();  // the piece does not answer: this hold is over
      next = SLOW_POLL;
    }
    schedule(document.hidden ? SLOW_POLL : next);
  }

  function schedule(ms) {
    clearTimeout(timer);  // one chain of polls, however often the page comes back
    timer = setTimeout(poll, ms);
  }

  function absent(why) {
    panel.hidden = false;
    panel.classList.add("absent");
    said.textContent = why;
    teach = null;
  }

  function show(t) {
    teach = t;
    panel.hidden = false;
    panel.classList.remove("absent");
    const key = JSON.stringify(t.outputs.map((o) =>
      [o.name, o.type, o.min, o.max, o.type === "regressor" ? [] : o.choices.map((c) => c.label)]));
    if (key !== shape) build(t.outputs, key);
    for (const o of t.outputs) update(o);
    if (t.message !== heard) {
      heard = t.message;
      if (t.message) say(t.message, false);
    }
    drawButtons();
  }

  // -- building and updating the outputs -------------------------------------------------

  function build(list, key) {
    shape = key;
    outputs.replaceChildren(...list.map((o) => {
      const box = element("fieldset", "output");
      box.dataset.output = o.name;
      const legend = element("legend");
      legend.append(element("span", "name", o.name), element("span", "kind", o.type),
                    element("span", "answer", "–"));
      box.append(legend);
      if (o.type === "regressor") box.append(...slider(o));
      else box.append(choiceList(o));
      box.append(element("p", "refusal"));
      return box;
    }));
    const still = chosen && list.find((o) => o.name === chosen.output);
    if (!still && list.length) choose(list[0], list[0].type === "regressor" ? list[0].min
                                                 : list[0].choices[0].value);
    else if (still) choose(still, chosen.value);
  }

  function choiceList(o) {
    const list = element("div", "choices");
    for (const c of o.choices) {
      const button = element("button", "choice");
      button.type = "button";
      button.dataset.value = c.value;
      button.append(element("span", "label", c.label), element("span", "count", "0"),
                    bar());
      button.addEventListener("click", () => choose(o, c.value));
      list.append(button);
    }
    return list;
  }

  function slider(o) {
    const live = bar();
    const label = element("label", "record-value", "Record ");
    const input = element("input");
    Object.assign(input, { type: "range", min: o.min, max: o.max, value: o.min,
                           step: o.integer ? 1 : (o.max - o.min) / 100 });
    const shown = element("output", "chosen", format(o.min));
    input.addEventListener("input", () => { choose(o, Number(input.value)); });
    label.append(input, shown);
    return [live, label, element("p", "counts")];
  }

  function update(o) {
    const box = outputs.querySelector(`[data-output="${CSS.escape(o.name)}"]`);
    if (!box) return;
    const answer = box.querySelector(".answer");
    answer.textContent = answerText(o);
    answer.classList.toggle("idle", o.live === null || answer.textContent === "–");
    box.querySelector(".refusal").textContent = o.refusal || "";
    box.classList.toggle("refused", Boolean(o.refusal));
    if (o.type === "regressor") {
      fill(box.querySelector(".bar"), o.live === null ? 0 : (o.live - o.min) / (o.max - o.min));
      box.querySelector(".counts").textContent = o.choices.length
        ? "Examples: " + o.choices.map((c) => `${c.label} ×${c.count}`).join(" · ")
        : "No examples yet";
      return;
    }
    for (const c of o.choices) {
      const button = box.querySelector(`.choice[data-value="${c.value}"]`);
      button.querySelector(".count").textContent = c.count;
      const match = o.type === "dtw" ? closeness(o, c) : (o.live === c.value ? 1 : 0);
      fill(button.querySelector(".bar"), match);
      button.classList.toggle("answering", match >= 1);
    }
  }

  function answerText(o) {
    if (o.live === null) return o.trained ? "–" : "not trained";
    if (o.type === "regressor") return format(o.live);
    const c = o.choices.find((choice) => choice.value === o.live);
    return c ? c.label : o.type === "dtw" ? "–" : String(o.live);
  }

  function closeness(o, c) {
    // A gesture's bar is full when its distance reaches the match threshold.
    if (c.distance === null || !o.threshold) return 0;
    return Math.min(1, o.threshold / Math.max(c.distance, 1e-9));
  }

  // -- choosing and the buttons ------------------------------------------------------------

  function choose(o, value) {
    if (holding) return;  // what is being recorded does not change mid-hold
    const c = o.type === "regressor" ? null : o.choices.find((choice) => choice.value === value);
    chosen = { output: o.name, value, label: c ? c.label : format(value) };
    for (const button of outputs.querySelectorAll(".choice")) {
      const mine = button.closest("fieldset").dataset.output === o.name &&
        Number(button.dataset.value) === value;
      button.setAttribute("aria-pressed", String(mine));
    }
    for (const box of outputs.querySelectorAll("fieldset")) {
      box.classList.toggle("chosen", box.dataset.output === o.name);
      const shown = box.querySelector("output.chosen"), input = box.querySelector("input");
      if (shown && box.dataset.output === o.name) {
        shown.textContent = format(value);
        input.value = value;
      }
    }
    drawButtons();
  }

  function drawButtons() {
    const t = teach;
    const what = chosen ? `${chosen.output} = ${chosen.label}` : "";
    const output = t && chosen && t.outputs.find((o) => o.name === chosen.output);
    const why = !t ? "" : !chosen ? "pick a class first"
      : output && output.refusal ? output.refusal
      : t.holding && !holding ? `another page is recording ${t.holding.label}`
      : t.recording && !t.holding ? "the piece is recording (its keyboard or OSC)" : "";
    hold.textContent = holding ? `Recording ${what}… let go to stop`
      : why ? `Can't record: ${why}` : `Hold to record ${what}`;
    hold.classList.toggle("on", holding);
    hold.setAttribute("aria-pressed", String(holding));
    hold.disabled = !holding && Boolean(why || !t);  // never while held: it must hear the release
    const training = Boolean(t && t.training);
    train.textContent = training ? "Training…" : "Train";
    train.disabled = !t || training || holding;
    remove.disabled = !t || training || holding;
  }

  // -- the hold ---------------------------------------------------------------------------

  function press(event) {
    if (event) {
      if (event.pointerType === "mouse" && event.button !== 0) return;
      event.preventDefault();  // no text selection, no long-press menu
    }
    if (holding || hold.disabled || !chosen) return;
    holding = true;
    const body = { output: chosen.output, value: chosen.value, on: true };
    record(body);
    resend = setInterval(() => record(body), HOLD_RESEND);
    drawButtons();
  }

  function letGo() {
    if (!holding) return;
    holding = false;
    clearInterval(resend);
    record({ on: false }, true);
    drawButtons();
  }

  function record(body, last = false) {
    sending = sending.then(() => post("/api/teach/record", body, last)).then((ok) => {
      if (!ok && body.on) letGo();  // refused, or no answer: stop confirming
    });
  }

  async function post(path, body, keepalive = false) {
    try {
      const answer = await fetch(path, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body || {}), keepalive,  // keepalive: sent even as the page goes
      });
      const reply = await answer.json();
      if (!(body && body.on)) acted += 1;
      say(answer.ok ? reply.message : reply.error, !answer.ok);
      return answer.ok;
    } catch (e) {
      say("the piece does not answer", true);
      return false;
    }
  }

  // -- small helpers --------------------------------------------------------------------

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function bar() {
    const outer = element("span", "bar");
    outer.append(element("span"));
    return outer;
  }

  function fill(outer, fraction) {
    const f = Math.max(0, Math.min(1, Number(fraction) || 0));
    outer.firstChild.style.width = `${(f * 100).toFixed(1)}%`;  // CSSOM: allowed by the CSP
    outer.dataset.fill = f.toFixed(2);
  }

  function format(value) {
    return typeof value === "number" ? String(Math.round(value * 1000) / 1000) : "–";
  }

  function say(text, bad) {
    said.textContent = text;
    said.classList.toggle("bad", bad);
  }

  hold.addEventListener("pointerdown", press);
  for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
    hold.addEventListener(type, letGo);
  }
  hold.addEventListener("contextmenu", (event) => event.preventDefault());
  hold.addEventListener("keydown", (event) => {
    if ((event.key === " " || event.key === "Enter") && !event.repeat) press(event);
  });
  hold.addEventListener("keyup", (event) => { if (event.key === " " || event.key === "Enter") letGo(); });
  hold.addEventListener("blur", letGo);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) letGo(); else schedule(0);
  });
  window.addEventListener("pagehide", letGo);
  train.addEventListener("click", () => post("/api/teach/train", {}));
  remove.addEventListener("click", () => post("/api/teach/delete-last", {}));
  poll();
})();
