import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo

    import sora_nb

    return mo, sora_nb


@app.cell
def _(mo):
    mo.md(
        """
        # sora_nb in marimo

        The studio and a generation's card are anywidgets: marimo shows them with
        `mo.ui.anywidget`. With no `SORA_BASE_URL` set, videos come from the embedded
        emulator, offline. Run it with `marimo edit notebooks/08-marimo.py` (or `marimo run`).
        """
    )
    return


@app.cell
def _(mo, sora_nb):
    studio = sora_nb.studio()
    mo.ui.anywidget(studio.widget)
    return (studio,)


@app.cell
def _(mo, sora_nb):
    cow = sora_nb.live("a cow grazing in a meadow at dawn")
    mo.ui.anywidget(cow.widget)
    return (cow,)


@app.cell
def _(cow):
    video = cow.result()  # waits for the card's video; it is in the studio's gallery too
    video.prompt, video.model, video.local_path
    return (video,)


@app.cell
def _(mo, sora_nb, video):
    halo = sora_nb.live("put a golden halo above the cow", edit=video)
    mo.ui.anywidget(halo.widget)
    return (halo,)


if __name__ == "__main__":
    app.run()
