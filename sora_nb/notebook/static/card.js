// A %%sora cell's card: the kernel renders it (the same template as the saved copy);
// this module draws it and ticks its clocks. Where the card shows a finished video (marimo),
// the video's bytes are asked for once and played from a blob: URL.
export default {
  render({ model, el }) {
    el.classList.add("sora-nb-view");
    let url = "";
    const play = () => {
      const video = el.querySelector("video");
      if (!video) return;
      if (url) {
        video.src = url;
      } else if (!video.dataset.asked) {
        video.dataset.asked = "1";
        model.send({ action: "media" });
      }
    };
    const got = (msg, buffers) => {
      if (msg.type !== "media" || !buffers.length) return;
      url = URL.createObjectURL(new Blob([buffers[0].buffer || buffers[0]], { type: msg.mime }));
      play();
    };
    model.on("msg:custom", got);
    const stop = soraMount(el, model, "html", play);
    return () => {
      model.off("msg:custom", got);
      if (url) URL.revokeObjectURL(url);
      stop();
    };
  },
};
