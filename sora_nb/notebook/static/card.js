// A %%sora cell's card: the kernel renders it (the same template as the saved copy);
// this module draws it and ticks its clocks.
export default {
  render({ model, el }) {
    el.classList.add("sora-nb-view");
    return soraMount(el, model, "html");
  },
};
