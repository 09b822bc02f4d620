// Shared by every sora_nb view (joined before each view's module; no build step).
// Clocks tick here, in the browser, so nothing looks frozen between kernel messages.

function soraClock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function soraTick(root) {
  const now = Date.now();
  for (const node of root.querySelectorAll("[data-since]")) {
    node.textContent = soraClock((now - Number(node.dataset.since)) / 1000);
  }
  for (const node of root.querySelectorAll("[data-until]")) {
    const left = (Number(node.dataset.until) - now) / 1000;
    node.textContent =
      node.dataset.format === "seconds" ? String(Math.max(0, Math.round(left))) : soraClock(left);
  }
}

// Draw `html` into `el`, keep its clocks ticking; returns the clean-up anywidget calls.
function soraMount(el, model, trait, after) {
  const draw = () => {
    el.innerHTML = model.get(trait);
    soraTick(el);
    if (after) after();
  };
  model.on(`change:${trait}`, draw);
  draw();
  const timer = setInterval(() => soraTick(el), 1000);
  return () => {
    clearInterval(timer);
    model.off(`change:${trait}`, draw);
  };
}
