// The studio: one widget model. The kernel renders tiles, job rows, details and the lineage
// tree (the same templates as the saved record); this module lays them out, adds the
// buttons, and sends what a person does as messages ({action: ...}). Videos arrive as a
// message's binary buffer and play from a blob: URL, so no file needs to be served.

function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "html") node.innerHTML = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function button(words, icon, text, attrs = {}) {
  const node = h("button", { type: "button", class: "sora-nb-button", ...attrs });
  node.innerHTML = `${words.icons[icon] || ""}<span>${text}</span>`;
  return node;
}

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = h("textarea", { style: "position:fixed;opacity:0" });
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
  return Promise.resolve();
}

function render({ model, el }) {
  const words = model.get("words");
  const media = new Map(); // turn index -> {url, name}
  const waiting = new Map(); // turn index -> callbacks waiting for its bytes
  el.classList.add("sora-nb-view", "sora-nb-studio");

  // -- compose ---------------------------------------------------------------------------
  const prompt = h("textarea", { class: "sora-nb-prompt", rows: "3", placeholder: words.prompt });
  const preview = h("div", { class: "sora-nb-attached" });
  const picker = h("input", { type: "file", accept: "image/*", class: "sora-nb-file" });
  const choose = button(words, "image", words.image, { class: "sora-nb-button sora-nb-choose" });
  // The picture to end on, for a model that takes a last frame (its controls say so).
  const lastPicker = h("input", { type: "file", accept: "image/*", class: "sora-nb-file" });
  const lastChoose = button(words, "film", words.end_on, {
    class: "sora-nb-button sora-nb-choose-last",
  });
  const lastPreview = h("div", { class: "sora-nb-attached sora-nb-attached-last" });
  const controls = h("div", { class: "sora-nb-controls" });
  const generate = button(words, "spark", words.generate, {
    class: "sora-nb-button sora-nb-primary sora-nb-generate",
  });
  // A turn's continuations, named as its model offers them (view.offers), or why it has none.
  const changes = h("span", { class: "sora-nb-changes" });
  const hint = h("span", { class: "sora-nb-hint", text: `${words.drop} · ${words.shortcut}` });
  const message = h("div", { class: "sora-nb-message", role: "status" });
  const jobs = h("div", { class: "sora-nb-jobs" });
  const grid = h("div", { class: "sora-nb-grid sora-nb-gallery" });
  const pager = h("div", { class: "sora-nb-pager" });
  const players = h("div", { class: "sora-nb-players" });
  const details = h("div", { class: "sora-nb-detail-list" });
  const tools = h("div", { class: "sora-nb-tools" });
  const tree = h("div", { class: "sora-nb-lineage" });
  const exportPane = h("div", { class: "sora-nb-export" });
  const compose = h("div", { class: "sora-nb-compose" }, [
    h("div", { class: "sora-nb-drop" }, [prompt, preview, lastPreview]),
    h("div", { class: "sora-nb-row" }, [controls]),
    h("div", { class: "sora-nb-row" }, [generate, changes, choose, picker, lastChoose, lastPicker, hint]),
  ]);
  const viewer = h("div", { class: "sora-nb-viewer" }, [players, details, tools, exportPane, tree]);
  const gallery = h("div", { class: "sora-nb-gallery-pane" }, [grid, pager]);
  el.replaceChildren(
    compose,
    message,
    jobs,
    h("div", { class: "sora-nb-main" }, [gallery, viewer]),
  );

  // -- settings: the model menu and the controls that model takes -------------------------
  const chosen = () => ({ ...model.get("settings") });
  function setting(name, value) {
    model.set("settings", { ...chosen(), [name]: value });
    model.save_changes();
  }
  const controlsOf = (name) => (model.get("models").find((m) => m.name === name) || {}).controls || {};
  function chooseModel(name) {
    // Keep what the next model takes too; a value it does not list goes back to its own.
    const next = controlsOf(name);
    const settings = { model: name };
    for (const [key, value] of Object.entries(chosen())) {
      const offered = next[key];
      if (key === "model" || offered === undefined) continue;
      if (!Array.isArray(offered) || offered.map(String).includes(String(value))) settings[key] = value;
    }
    model.set("settings", settings);
    model.save_changes();
  }
  function drawControls() {
    const settings = chosen();
    const models = model.get("models");
    const current = models.find((m) => m.name === settings.model) || models[0] || { controls: {} };
    const menu = h("select", { class: "sora-nb-model", "aria-label": words.model });
    for (const m of models) menu.append(h("option", { value: m.name, text: m.name }));
    menu.value = current.name || "";
    menu.onchange = () => chooseModel(menu.value);
    const parts = [h("label", {}, [h("span", { text: words.model }), menu])];
    const c = current.controls || {};
    const select = (name, title, options) => {
      const node = h("select", { class: `sora-nb-${name}`, "aria-label": title });
      for (const [value, text] of options) node.append(h("option", { value, text }));
      node.value = settings[name] ?? options[0][0];
      node.onchange = () => setting(name, node.value);
      parts.push(h("label", {}, [h("span", { text: title }), node]));
    };
    if (c.orientation) {
      const names = { "": words.auto, portrait: words.portrait, landscape: words.landscape };
      select("orientation", words.ratio, c.orientation.map((o) => [o, names[o] || o]));
    }
    if (c.aspect_ratio) {
      select("aspect_ratio", words.ratio, c.aspect_ratio.map((r) => [r, r || words.auto]));
    }
    if (c.duration) {
      const seconds = (n) => (n === "" ? words.auto : words.seconds.replace("{n}", n));
      select("duration", words.duration, c.duration.map((n) => [String(n), seconds(n)]));
    }
    if (c.resolution) {
      select("resolution", words.resolution, c.resolution.map((r) => [r, r || words.auto]));
    }
    if (c.audio) {
      const box = h("input", { type: "checkbox", class: "sora-nb-audio" });
      box.checked = Boolean(settings.audio);
      box.onchange = () => setting("audio", box.checked);
      parts.push(h("label", {}, [box, h("span", { text: words.audio })]));
    }
    controls.replaceChildren(...parts);
    // The pictures' buttons only where the model takes that frame.
    choose.hidden = c.first_frame === false;
    lastChoose.hidden = !c.last_frame;
  }

  // -- actions ---------------------------------------------------------------------------
  const send = (content, buffers) => model.send(content, undefined, buffers);
  const selected = () => model.get("selected");
  const tileOf = (index) => model.get("tiles").find((t) => t.index === index);
  function start(mode, how) {
    const base = selected().length ? selected()[selected().length - 1] : null;
    send({ action: "generate", prompt: prompt.value, mode, how, base, settings: chosen() });
  }
  generate.onclick = () => start("new");
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      event.stopPropagation(); // JupyterLab must not run the cell again
      if (!generate.disabled) start("new");
    }
  });
  prompt.addEventListener("input", syncButtons);
  async function attach(file, slot) {
    if (!file) return;
    send({ action: "image", slot }, [await file.arrayBuffer()]);
  }
  choose.onclick = () => picker.click();
  picker.onchange = () => attach(picker.files[0]).then(() => (picker.value = ""));
  lastChoose.onclick = () => lastPicker.click();
  lastPicker.onchange = () =>
    attach(lastPicker.files[0], "last_frame").then(() => (lastPicker.value = ""));
  el.addEventListener("dragover", (event) => {
    if ([...event.dataTransfer.types].includes("Files")) {
      event.preventDefault();
      el.classList.add("sora-nb-dragging");
    }
  });
  el.addEventListener("dragleave", () => el.classList.remove("sora-nb-dragging"));
  el.addEventListener("drop", (event) => {
    const file = [...event.dataTransfer.files].find((f) => f.type.startsWith("image/"));
    el.classList.remove("sora-nb-dragging");
    if (file) {
      event.preventDefault();
      attach(file);
    }
  });
  el.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
    if (file) {
      event.preventDefault();
      attach(file);
    }
  });

  // -- media: the mp4's bytes come back as a message's buffer ----------------------------
  function withMedia(index, use, ask = () => send({ action: "media", index })) {
    if (media.has(index)) return use(media.get(index));
    if (!waiting.has(index)) {
      waiting.set(index, []);
      ask();
    }
    waiting.get(index).push(use);
  }
  model.on("msg:custom", (msg, buffers) => {
    if (msg.type !== "media") return;
    let url = msg.url || "";
    if (buffers && buffers.length) {
      const blob = new Blob([buffers[0].buffer || buffers[0]], { type: msg.mime });
      url = URL.createObjectURL(blob);
    }
    media.set(msg.index, { url, name: msg.name || `sora-${msg.index}.mp4` });
    for (const use of waiting.get(msg.index) || []) use(media.get(msg.index));
    waiting.delete(msg.index);
  });
  function download(index) {
    const ask = String(index).startsWith("export:") ? () => send({ action: "export_media" }) : undefined;
    withMedia(index, ({ url, name }) => {
      const link = h("a", { href: url, download: name });
      document.body.append(link);
      link.click();
      link.remove();
    }, ask);
  }

  // -- drawing ---------------------------------------------------------------------------
  const HOW_ICONS = { remix: "spark", edit: "pencil", extend: "next", "last-frame": "film" };
  function drawChanges() {
    const { offers = [], why_not: whyNot = "" } = model.get("view");
    const parts = offers.map((how) => {
      const node = button(words, HOW_ICONS[how] || "pencil", words[`continue.${how}`] || how, {
        class: `sora-nb-button sora-nb-edit sora-nb-how-${how}`,
      });
      node.dataset.how = how;
      node.onclick = () => start("edit", how);
      return node;
    });
    if (!parts.length) {
      // Nothing selected, or a model that offers no continuation: said before any send.
      const none = button(words, "pencil", words.edit, { class: "sora-nb-button sora-nb-edit" });
      none.disabled = true;
      none.dataset.none = "1";
      if (whyNot) none.title = whyNot;
      parts.push(none);
      if (whyNot) parts.push(h("span", { class: "sora-nb-hint sora-nb-no-continuation", text: whyNot }));
    }
    changes.replaceChildren(...parts);
    syncButtons();
  }
  function syncButtons() {
    const hasPrompt = prompt.value.trim().length > 0;
    generate.disabled = !hasPrompt;
    for (const node of changes.querySelectorAll("button")) {
      node.disabled = Boolean(node.dataset.none) || !hasPrompt;
    }
  }
  let exportShown = "";
  function drawExport() {
    const state = model.get("exported");
    const last = selected()[selected().length - 1];
    const shown = `${last}|${state.index}|${state.state}|${state.name}`;
    if (shown === exportShown) return; // a redraw must not restart the chain's video
    exportShown = shown;
    exportPane.replaceChildren();
    if (!state.state || state.index !== last) return;
    const kind = { running: "info", failed: "error", done: "info" }[state.state];
    exportPane.append(h("div", { class: `sora-nb-message sora-nb-${kind}`, role: "status", text: state.text }));
    if (state.state !== "done") return;
    const slot = h("div", { class: "sora-nb-player sora-nb-export-player" });
    const key = `export:${state.name}`;
    withMedia(key, ({ url }) => {
      const video = h("video", { controls: "", playsinline: "", preload: "metadata" });
      video.src = url;
      const save = button(words, "download", words.download, { class: "sora-nb-button sora-nb-download" });
      save.onclick = () => download(key);
      slot.replaceChildren(video, save);
    }, () => send({ action: "export_media" }));
    exportPane.append(slot, h("div", { class: "sora-nb-chain-lineage", html: state.html || "" }));
  }
  function drawPicture(box, url, slot) {
    box.replaceChildren();
    if (!url) return;
    const clear = button(words, "x", words.clear_image, { class: "sora-nb-button sora-nb-clear" });
    clear.onclick = () => send({ action: "clear_image", slot });
    box.append(h("img", { src: url, alt: "", class: "sora-nb-preview" }), clear);
  }
  function drawImage() {
    drawPicture(preview, model.get("image"));
    drawPicture(lastPreview, model.get("last_frame"), "last_frame");
  }
  function drawMessage() {
    const { text, kind } = model.get("message");
    message.textContent = text || "";
    message.className = `sora-nb-message sora-nb-${kind || "info"}`;
  }
  function drawJobs() {
    jobs.replaceChildren(
      ...model.get("jobs").map((job) => {
        const stop = button(words, job.final ? "x" : "pause", job.final ? words.close : words.cancel, {
          class: "sora-nb-button sora-nb-cancel",
        });
        stop.onclick = () => send({ action: "cancel", job: job.id });
        return h("div", { class: "sora-nb-job" }, [
          h("span", { class: "sora-nb-job-prompt", text: job.prompt, title: job.prompt }),
          h("span", { class: "sora-nb-job-progress", html: job.html }),
          stop,
        ]);
      }),
    );
    soraTick(jobs);
  }
  function tileButtons(tile) {
    const bar = h("div", { class: "sora-nb-tile-actions" });
    if (tile.playable) {
      const play = button(words, "play", words.play, {
        class: "sora-nb-button sora-nb-select",
        title: tile.prompt,
        "aria-label": `#${tile.index}`,
      });
      play.onclick = () => send({ action: "select", index: tile.index });
      bar.append(play);
      const current = selected();
      if (current.length && !current.includes(tile.index)) {
        const compare = button(words, "compare", words.compare, {
          class: "sora-nb-button sora-nb-compare",
        });
        compare.onclick = () => send({ action: "select", index: tile.index, add: true });
        bar.append(compare);
      }
    }
    if (tile.resumable) {
      const resume = button(words, "resume", words.resume, { class: "sora-nb-button sora-nb-resume" });
      resume.onclick = () => send({ action: "resume", index: tile.index });
      bar.append(resume);
    }
    return bar;
  }
  function drawTiles() {
    const tiles = model.get("tiles");
    const current = selected();
    if (!tiles.length) {
      grid.replaceChildren(h("div", { class: "sora-nb-empty", text: words.empty }));
    } else {
      grid.replaceChildren(
        ...tiles.map((tile) => {
          const cell = h("div", {
            class: `sora-nb-cell${current.includes(tile.index) ? " sora-nb-selected" : ""}`,
            "data-index": tile.index,
            html: tile.html,
          });
          const picture = cell.querySelector(".sora-nb-thumb");
          if (picture && tile.playable) {
            picture.classList.add("sora-nb-clickable");
            picture.onclick = (event) =>
              send({ action: "select", index: tile.index, add: event.shiftKey });
          }
          cell.firstElementChild.append(tileButtons(tile));
          return cell;
        }),
      );
    }
    const { number = 0, pages = 1, total = 0 } = model.get("page");
    const previous = button(words, "prev", words.previous, { class: "sora-nb-button sora-nb-prev" });
    const next = button(words, "next", words.next, { class: "sora-nb-button sora-nb-next" });
    previous.disabled = number <= 0;
    next.disabled = number >= pages - 1;
    previous.onclick = () => send({ action: "page", number: number - 1 });
    next.onclick = () => send({ action: "page", number: number + 1 });
    const where = words.page.replace("{n}", number + 1).replace("{pages}", pages);
    pager.replaceChildren(previous, h("span", { text: `${where} · ${words.turns.replace("{n}", total)}` }), next);
    pager.hidden = total <= tiles.length && number === 0;
    syncButtons();
  }
  let playing = "";
  function drawPlayers() {
    const current = selected();
    if (current.join(",") === playing) return; // a redraw must not restart a playing video
    playing = current.join(",");
    players.className = `sora-nb-players${current.length > 1 ? " sora-nb-comparing" : ""}`;
    players.replaceChildren(
      ...current.map((index) => {
        const slot = h("div", { class: "sora-nb-player" });
        const poster = el.querySelector(`.sora-nb-cell[data-index="${index}"] img`);
        withMedia(index, ({ url }) => {
          const video = h("video", { controls: "", playsinline: "", preload: "metadata" });
          if (poster) video.poster = poster.src;
          video.src = url;
          slot.replaceChildren(video);
        });
        return slot;
      }),
    );
  }
  function drawViewer() {
    const current = selected();
    const view = model.get("view");
    drawPlayers();
    drawChanges();
    drawExport();
    details.replaceChildren(...(view.details || []).map((part) => h("div", { html: part })));
    details.classList.toggle("sora-nb-comparing", current.length > 1);
    tree.innerHTML = view.tree || "";
    for (const node of tree.querySelectorAll("[data-index]")) {
      const index = Number(node.dataset.index);
      node.onclick = () => send({ action: "select", index });
    }
    tools.replaceChildren();
    if (!current.length) {
      tools.append(h("div", { class: "sora-nb-hint", text: words.nothing_selected }));
      return;
    }
    const last = current[current.length - 1];
    const tile = tileOf(last);
    if (tile && tile.downloadable) {
      const save = button(words, "download", words.download, { class: "sora-nb-button sora-nb-download" });
      save.onclick = () => download(last);
      tools.append(save);
    }
    const copy = button(words, "copy", words.copy, { class: "sora-nb-button sora-nb-copy" });
    copy.onclick = () => {
      const text = tile ? tile.prompt : "";
      copyText(text).then(() => (copy.querySelector("span").textContent = words.copied));
    };
    tools.append(copy);
    if (view.chain && current.length === 1) {
      const chain = button(words, "film", words.export, { class: "sora-nb-button sora-nb-export-chain" });
      chain.disabled = model.get("exported").state === "running";
      chain.onclick = () => send({ action: "export", index: last });
      tools.append(chain);
    }
    if (current.length > 1) {
      const stop = button(words, "x", words.stop_compare, { class: "sora-nb-button sora-nb-uncompare" });
      stop.onclick = () => send({ action: "select", index: last });
      tools.append(stop);
    } else {
      tools.append(h("span", { class: "sora-nb-hint", text: words.compare_hint }));
    }
  }

  function drawAll() {
    el.classList.toggle("sora-nb-app", model.get("app"));
    drawControls();
    drawImage();
    drawMessage();
    drawJobs();
    drawTiles();
    drawViewer();
  }
  const handlers = {
    "change:models": drawControls,
    "change:settings": drawControls,
    "change:image": drawImage,
    "change:last_frame": drawImage,
    "change:message": drawMessage,
    "change:jobs": drawJobs,
    "change:tiles": () => {
      drawTiles();
      drawViewer();
    },
    "change:page": drawTiles,
    "change:selected": () => {
      drawTiles();
      drawViewer();
    },
    "change:view": drawViewer,
    "change:exported": drawViewer,
  };
  for (const [name, handler] of Object.entries(handlers)) model.on(name, handler);
  drawAll();
  const timer = setInterval(() => soraTick(jobs), 1000);
  return () => {
    clearInterval(timer);
    for (const [name, handler] of Object.entries(handlers)) model.off(name, handler);
    for (const { url } of media.values()) if (url.startsWith("blob:")) URL.revokeObjectURL(url);
  };
}

export default { render };
