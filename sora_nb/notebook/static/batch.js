// A batch's card: the kernel renders it (the same template as the saved copy); buttons
// carrying data-action send that action back to the kernel as a message.
export default {
  render({ model, el }) {
    el.classList.add("sora-nb-view");
    const click = (event) => {
      const button = event.target.closest("[data-action]");
      if (button && !button.disabled) {
        button.disabled = true; // one click, one message: the kernel redraws the card
        model.send({ action: button.dataset.action });
      }
    };
    el.addEventListener("click", click);
    const stop = soraMount(el, model, "html");
    return () => {
      el.removeEventListener("click", click);
      stop();
    };
  },
};
