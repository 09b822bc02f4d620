"""The ``%%sora`` cell magic and the ``%sora`` line commands.

Parsing uses IPython's ``@magic_arguments`` (as anywidget's ``_cellmagic.py``
does) and the settings are traitlets, so ``%config SoraMagics.model =
"sora-2-pro"`` works like any other IPython setting. Every job is a ``Session``
method run by ``CellJob``; nothing here streams.
"""

from __future__ import annotations

import getpass
import html
import keyword
import re
import string
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from IPython.core.error import StdinNotImplementedError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Bool, Enum, TraitError, Unicode, observe

from .._exceptions import InvalidRequest, SoraError
from .._secret import Secret, mask, shown_url
from ..client import _config
from ..client._client import SoraClient
from ..dialects import DIALECTS, dialect_for
from ..records._ask import DEFAULT_MODEL, Ask
from ..records._request import normalize_orientation, validate_model
from ..records._video import Video
from ..render._render import history_mimebundle
from ..session._history import Session, get_session
from ._i18n import LANGUAGES, language, set_language, t
from ._job import CellJob
from ._output import CellFailed, describe, settings_bundle
from ._progress import open_widget_channel
from ._run import run_blocking
from ._traits import SecretKey

__all__ = ["SoraMagics", "load_ipython_extension", "magics_for", "mask_key", "settings"]

LATEST = "\0latest"  # ``--edit`` given with no REF
_notice_shown = False

# The cell's options in each language (argparse's own help is English only).
_OPTIONS = {
    "en": """\
%%sora [options], then the prompt in the cell ({var} is filled in from the notebook)
  --model, -m M          sora-2 (10 s), sora-2-pro (15 s, HD), or the relay's name
  --orientation, -o O    portrait (9:16) or landscape (16:9)
  --ratio R              9:16 or 16:9, the same as --orientation
  --image, -i PATH|URL   start from this image
  --duration, -d S       seconds, where the relay takes a duration
  --edit, -e [REF]       change a video: a name bound with --as, an index, the latest
  --as NAME              bind the Video to this variable
  --background, -b       return at once
  --no-save              keep no local copy of the video
  --embed                store the mp4 inside the notebook (big)
  --aspect-ratio R       16:9, 9:16, 1:1… (a gateway's model; see %sora models)
  --resolution R         720p, 1080p… (a gateway's model)
  --last-frame PATH|URL  end on this image (first-and-last-frame models)
  --audio, --no-audio    ask for sound, or for none
  --how H                with --edit on a gateway: remix, edit, extend or last-frame
  --help, -h             this help""",
    "zh": """\
%%sora [选项]，然后在单元格中写提示词（{var} 会用笔记本中的变量填入）
  --model, -m M          sora-2（10 秒）、sora-2-pro（15 秒，高清）或中转服务的模型名
  --orientation, -o O    portrait 竖屏（9:16）或 landscape 横屏（16:9）
  --ratio R              9:16 或 16:9，与 --orientation 相同
  --image, -i PATH|URL   从这张图片开始
  --duration, -d S       时长（秒），如果中转服务支持
  --edit, -e [REF]       修改视频：--as 绑定的名称、历史序号，默认最近一个
  --as NAME              把生成的 Video 绑定到这个变量
  --background, -b       立即返回，在后台生成
  --no-save              不保存本地副本
  --embed                把 mp4 存入笔记本（体积大）
  --aspect-ratio R       画面比例 16:9、9:16、1:1…（网关模型；见 %sora models）
  --resolution R         分辨率 720p、1080p…（网关模型）
  --last-frame PATH|URL  以这张图片结尾（首尾帧模型）
  --audio, --no-audio    要声音，或不要声音
  --how H                与 --edit 同用（网关）：`remix`、`edit`、`extend` 或 `last-frame`
  --help, -h             显示本帮助""",
}

_COMMANDS = {
    "en": """\
%sora config [--base-url URL] [--api-key [KEY]] [--model M] [--orientation O]
             [--save-dir DIR] [--language auto|en|zh] [--session NAME]
             [--autosave FILE] [--dialect D]
                        show the settings (the key masked) or change them
%sora history [--page N] the session's turns, with thumbnails (100 rows a page)
%sora reset             forget the session's turns
%sora resume [TASK]     finish an interrupted turn (default: the latest one)
%sora models           the relay's video models and what each takes
%sora export [REF] [FILE]
                        a chain of continuations as one mp4, with its lineage
%sora panel             the interactive panel
%sora batch FILE [--journal J] [--as NAME] | --resume J
                        many videos from a text, CSV or JSONL file, resumable
%sora help              this help""",
    "zh": """\
%sora config [--base-url URL] [--api-key [KEY]] [--model M] [--orientation O]
             [--save-dir DIR] [--language auto|en|zh] [--session NAME]
             [--autosave FILE] [--dialect D]
                        查看设置（密钥已遮盖）或修改设置
%sora history [--page N] 本会话的历史记录（含缩略图，每页 100 行）
%sora reset             清除本会话的历史记录
%sora resume [TASK]     取回被中断的任务（默认最近一个）
%sora models           视频模型及各自支持的参数
%sora export [REF] [FILE]
                        把一串接续的视频导出为一个 mp4，并附上来历
%sora panel             交互面板
%sora batch FILE [--journal J] [--as NAME] | --resume J
                        批量生成（文本、CSV 或 JSONL 文件），可续传
%sora help              显示本帮助""",
}


def quiet_notice() -> None:
    """No printed emulator notice: an app page says it in its own words, with no
    address.
    """
    global _notice_shown
    _notice_shown = True


def models_bundle(rows: list[dict[str, Any]]) -> dict[str, str]:
    """A models table as HTML and plain text (readable with no kernel)."""
    columns = ("model", "durations", "aspect_ratios", "resolutions", "first_frame",
               "last_frame", "audio", "continuations")  # fmt: skip

    def cell(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "?"
        words = {True: "yes", False: "no", None: "?"}
        return words[value] if value is None or isinstance(value, bool) else str(value)

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell(row[c]))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    text = "\n".join(" | ".join(cell(row[c]) for c in columns) for row in rows)
    return {"text/html": f"<table><tr>{head}</tr>{body}</table>", "text/plain": text}


def mask_key(key: str | Secret | None) -> str:
    """``sk-…abcd``: enough to tell keys apart, never enough to use one."""
    if not key:
        return t("key.not_set")
    return str(key) if isinstance(key, Secret) else mask(key)


def _parse(magic: Any, line: str) -> Any:
    """Parse a magic's line; IPython's splitter keeps quotes, so ``--save-dir
    ""`` is ``""``.
    """
    try:
        args = parse_argstring(magic, line)
    except ValueError as exc:  # shlex: "No closing quotation"
        raise InvalidRequest(f"Cannot read the options {line[:60]!r}: {exc}.") from None
    for key, value in vars(args).items():
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] in "'\"":
            setattr(args, key, value[1:-1])
    return args


#: ``%sora`` commands that open a view built on these magics (``panel``,
#: ``batch``). Each view module adds its own when imported (``sora_nb.notebook``
#: imports them before loading the extension), so this module imports none of
#: them: the views sit above it in the layers.
VIEW_COMMANDS: dict[str, Callable[[SoraMagics, str], None]] = {}


class _Prompt(string.Formatter):
    """``{name}`` fields filled from the user namespace, with one clear sentence
    on error.
    """

    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        if isinstance(key, int) or key not in kwargs:
            raise InvalidRequest(t("error.unknown_name", name=str(key)))
        return kwargs[key]

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        try:
            return super().get_field(field_name, args, kwargs)
        except InvalidRequest:
            raise
        # {d[zz]}, {obj.zz}, or a user object's own error
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"[:120]
            raise InvalidRequest(t("error.bad_field", field=field_name, detail=detail)) from None


def _check_job(prompt: str, name: str | None) -> None:
    """Refuse an empty cell, or an ``--as`` name Python cannot bind."""
    if not prompt.strip():
        raise InvalidRequest(t("error.empty_cell"))
    if name is not None and (not name.isidentifier() or keyword.iskeyword(name)):
        raise InvalidRequest(t("error.bad_name", name=name))


def _typical(session: Session, model: str) -> float | None:
    """How long a finished video of ``model`` took in this session (the median),
    if any; for the embedded emulator, its own few seconds (a relay's 1–30 min
    would mislead).
    """
    times = sorted(
        turn.elapsed
        for turn in session.turns
        if turn.status == "done" and turn.model == model and turn.elapsed is not None
    )
    if times:
        return times[len(times) // 2]
    return _config.embedded_emulator_seconds() if session.client.uses_emulator else None


def expand_prompt(text: str, namespace: dict[str, Any]) -> str:
    """Fill ``{var}`` fields in a cell body (IPython expands only the magic's
    line).
    """
    try:
        return _Prompt().vformat(text, (), namespace)
    except InvalidRequest:  # a ValueError too, and already one sentence
        raise
    # {d!z}, {x:%%}, a user object's __format__: one sentence
    except Exception as exc:
        raise InvalidRequest(t("error.bad_braces", detail=str(exc)[:120])) from None


@magics_class
class SoraMagics(Magics):
    """``%%sora`` makes a video from the cell's prompt; ``%sora`` manages the
    session.
    """

    base_url = Unicode(
        None,
        allow_none=True,
        help="The relay's base URL. Default: $SORA_BASE_URL, else the embedded emulator.",
    ).tag(config=True)
    api_key = SecretKey(
        None,
        help="The relay's API key. Prefer $SORA_API_KEY: a key typed in a cell is saved "
        "with the notebook. Never displayed unmasked.",
    ).tag(config=True)
    model = Unicode(
        "sora-2",
        help="Model for new videos: sora-2, sora-2-pro, or any name the relay serves.",
    ).tag(config=True)
    dialect = Enum(
        [dialect.name for dialect in DIALECTS],
        default_value=None,
        allow_none=True,
        help="The relay's kind: chat (either chat dialect) or videos (the Videos task API). "
        "Default: $SORA_DIALECT, else chat.",
    ).tag(config=True)
    orientation = Enum(
        ["portrait", "landscape"],
        default_value=None,
        allow_none=True,
        help="Shape of new videos (None: the relay's default).",
    ).tag(config=True)
    save_dir = Unicode(
        "sora_outputs",
        allow_none=True,
        help="Folder, beside the notebook, for local copies of finished videos.",
    ).tag(config=True)
    download = Bool(True, help="Copy finished videos into save_dir.").tag(config=True)
    language = Enum(
        list(LANGUAGES), default_value="auto", help="Language of labels: auto, en or zh."
    ).tag(config=True)
    session = Unicode("default", help="Name of the Session that records the turns.").tag(
        config=True
    )
    autosave = Unicode(
        None,
        allow_none=True,
        help="A JSON file the history is written to after every change and read back from "
        "(e.g. sora_history.json): after a kernel restart, %sora resume still finds its turns.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._client: SoraClient | None = None
        set_language(self.language)

    @classmethod
    def class_get_trait_help(cls, trait: Any, inst: Any = None, helptext: Any = None) -> str:
        # ``%config SoraMagics`` prints every trait's current value: never the
        # key's, nor a password in the base URL.
        if trait.name not in ("api_key", "base_url") or inst is None:
            return super().class_get_trait_help(trait, inst, helptext)
        text = super().class_get_trait_help(trait, None, helptext)
        if trait.name == "base_url":
            return f"{text}\n    Current: {shown_url(inst.base_url or '')!r}"
        return f"{text}\n    Current: {mask_key(inst.api_key)}"

    @observe("base_url", "api_key", "dialect")
    def _forget_client(self, change: Any) -> None:
        self._client = None  # the next job connects with the new settings

    @observe("language")
    def _apply_language(self, change: Any) -> None:
        set_language(change.new)

    # -- the session and its client --------------------------------------------

    def client(self) -> SoraClient:
        """The client built from the settings (starting the embedded emulator if
        needed).
        """
        global _notice_shown
        if self._client is None:
            self._client = SoraClient(
                base_url=self.base_url or None, api_key=self.api_key, dialect=self.dialect
            )
            if self._client.uses_emulator and not _notice_shown:
                _notice_shown = True
                # host:port, no scheme: frontends turn an http:// URL in printed
                # text into a link, dead once the notebook is saved and the
                # kernel is gone.
                address = self._client.base_url.split("://", 1)[-1]
                print(t("notice.emulator", url=address))
        return self._client

    def recorded_session(self, client: SoraClient | None = None) -> Session:
        """The session named by the settings, with its autosave file if one is
        set.
        """
        # A restarted kernel picks its turns back up from the file, resumable
        # ones too.
        return get_session(self.session, autosave=self.autosave or None, client=client)

    def get_session(self) -> Session:
        """The configured session that the magic and the panel both drive."""
        # never over one the user set on it
        session = self.recorded_session(self.client())
        session.save_dir = self.save_dir or None
        session.download = self.download and bool(self.save_dir)
        return session

    @property
    def _user_ns(self) -> dict[str, Any]:
        # registered on a shell by load_ipython_extension
        assert self.shell is not None
        return self.shell.user_ns

    # -- the magic -------------------------------------------------------------

    @line_cell_magic
    def sora(self, line: str, cell: str | None = None) -> None:
        """Make and refine sora-2 videos; ``%sora help`` lists the options."""
        try:
            if cell is None:
                self._line(line)
            else:
                self._cell(line, cell)
        # bad input: one sentence, no traceback, and the cell fails
        except SoraError as exc:
            raise CellFailed(describe(exc)) from None
        # an autosave file or folder that cannot be written
        except OSError as exc:
            reason = exc.strerror or str(exc)
            # never "file :"
            name = exc.filename or self.autosave or t("error.some_file")
            raise CellFailed(t("error.file", name=name, reason=reason)) from None
        except TraitError as exc:  # a setting the trait refuses
            raise CellFailed(str(exc)) from None

    @magic_arguments(name="%sora")
    @argument("--model", "-m", help="sora-2 (10 s), sora-2-pro (15 s, HD), or the relay's name.")
    @argument("--orientation", "-o", help="portrait (9:16) or landscape (16:9).")
    @argument("--ratio", help="16:9 or 9:16, the same as --orientation.")
    @argument("--image", "-i", metavar="PATH_OR_URL", help="Start from this image.")
    @argument("--duration", "-d", metavar="S", help="Seconds, where the relay takes them.")
    @argument(
        "--edit",
        "-e",
        nargs="?",
        const=LATEST,
        metavar="REF",
        help="Change a video: a name bound with --as, a history index, or the latest.",
    )
    @argument("--as", dest="name", metavar="NAME", help="Bind the Video to this variable.")
    @argument("--background", "-b", action="store_true", help="Return at once.")
    @argument("--no-save", action="store_true", help="Keep no local copy of the video.")
    @argument("--embed", action="store_true", help="Store the mp4 inside the notebook (big).")
    @argument("--aspect-ratio", help="16:9, 9:16, 1:1… as the gateway's model takes them.")
    @argument("--resolution", help="720p, 1080p… as the gateway's model takes them.")
    @argument("--last-frame", metavar="PATH_OR_URL", help="End on this image (first/last).")
    @argument("--audio", action="store_true", default=None, help="Ask for sound.")
    @argument("--no-audio", dest="audio", action="store_false", help="Ask for no sound.")
    @argument("--how", help="With --edit on a gateway: remix, edit, extend or last-frame.")
    @argument("--help", "-h", action="store_true", help="Show this help.")
    def _cell_args(self, line: str) -> None:
        """%%sora [options] then, in the cell, the prompt ({var} is filled
        in).
        """

    def _help(self, rest: str = "") -> None:
        print(_OPTIONS[language()])
        print()
        print(_COMMANDS[language()])

    def _cell(self, line: str, cell: str) -> None:
        args = _parse(self._cell_args, line)
        if args.help:
            self._help()
            return
        if not cell.strip():
            raise InvalidRequest(t("error.empty_cell"))
        self.run_job(args, expand_prompt(cell, self._user_ns))

    def run_job(self, args: Any, prompt: str) -> Video | None:
        """Run the ``%%sora`` cell's generation or edit as a cell job.

        Returns the Video, or None for a ``--background`` job (it binds ``--as``
        later).
        """
        _check_job(prompt, args.name)
        if args.ratio is not None and args.ratio.strip() not in ("9:16", "16:9"):
            raise InvalidRequest(t("error.bad_ratio", ratio=args.ratio))
        editing = args.edit is not None
        orientation = args.orientation or args.ratio
        ask = self.ask(
            prompt, name=args.name, editing=editing, model=args.model,
            orientation=orientation, image=args.image, duration=args.duration,
            aspect_ratio=args.aspect_ratio, resolution=args.resolution,
            last_frame=args.last_frame, audio=args.audio, how=args.how,
        )  # fmt: skip
        job = {"name": args.name, "save": not args.no_save, "embed": args.embed}
        return self.run_ask(
            ask, edit=args.edit, background=args.background, parent_model=not args.model, **job
        )

    def ask(
        self,
        prompt: str,
        *,
        name: str | None = None,
        editing: bool = False,
        model: str | None = None,
        orientation: str | None = None,
        image: Any = None,
        **options: Any,
    ) -> Ask:
        """The Ask for ``prompt``, with this notebook's settings where none is
        given.

        An edit keeps its video's model and orientation unless told otherwise.
        """
        _check_job(prompt, name)
        orientation = orientation or (None if editing else self.orientation)
        model = model or (None if editing else self.model) or DEFAULT_MODEL
        return Ask.build(prompt, model=model, orientation=orientation, image=image, **options)

    def run_ask(
        self,
        ask: Ask,
        *,
        edit: Video | int | str | None = None,
        name: str | None = None,
        save: bool = True,
        embed: bool = False,
        background: bool = False,
        parent_model: bool = False,
    ) -> Video | None:
        """Run one generation (or an edit of ``edit``) as a cell job: the
        magic's and ``sora_nb.generate()``'s. ``parent_model``: an edit keeps
        its video's model.
        """
        session = self.get_session()
        target = self._edit_target(session, edit)
        if target is not None and parent_model:
            ask = replace(ask, model=target.model)
        keep = None if save else False  # None: the session's own setting

        def make(on_event: Any) -> Any:
            if edit is None:
                return session.generate(ask, save=keep, name=name, on_event=on_event)
            return session.edit(target, ask, save=keep, name=name, on_event=on_event)

        job = CellJob(self.shell, name=name, embed=embed, typical=_typical(session, ask.model))
        job.view.stop_cancels = lambda: session.client.cancels_on_disconnect
        return job.run(make, background=background)

    def _models(self, rest: str) -> None:
        """``%sora models``: the relay's video models and what each takes."""
        rows = [caps.as_row() for caps in run_blocking(self.get_session().client.models())]
        display(models_bundle(rows), raw=True)

    def _export(self, rest: str) -> None:
        """``%sora export [REF] [FILE]``: a chain of continuations as one mp4,
        with lineage.
        """
        parts = rest.split()
        ref: int | str | None = parts[0] if parts else None
        if isinstance(ref, str) and re.fullmatch(r"-?[0-9]+", ref):
            ref = int(ref)
        session = self.get_session()
        print(run_blocking(session.export_chain(ref, parts[1] if len(parts) > 1 else None)))

    def _edit_target(self, session: Session, ref: Video | int | str | None) -> Video | None:
        """The video ``--edit REF`` names: a Video variable, a turn's name or
        index, the latest.
        """
        if ref is None or isinstance(ref, Video):
            return ref
        if isinstance(ref, int):
            return session.video(ref)
        if ref == LATEST:
            latest = session.latest()
            if latest is None:
                raise InvalidRequest(t("error.nothing_to_edit"))
            return latest
        value = self._user_ns.get(ref)
        return value if isinstance(value, Video) else session.video(ref)

    # -- line commands ---------------------------------------------------------

    def _line(self, line: str) -> None:
        command, _, rest = line.strip().partition(" ")
        handlers: dict[str, Callable[[str], None]] = {
            "config": self._config,
            "history": self._history,
            "reset": self._reset,
            "resume": self._resume,
            "models": self._models,
            "export": self._export,
            **{name: partial(view, self) for name, view in VIEW_COMMANDS.items()},
            "help": self._help,
            "-h": self._help,
            "--help": self._help,
            "": self._help,
        }
        if command not in handlers:
            raise InvalidRequest(t("error.unknown_command", cmd=command))
        handlers[command](rest.strip())

    def _history(self, rest: str) -> None:
        found = re.fullmatch(r"(?:--page\s+([0-9]+))?", rest.strip())
        if found is None:
            raise InvalidRequest(t("error.history_args", rest=rest.strip()[:40]))
        page = int(found.group(1)) if found.group(1) else None
        display(history_mimebundle(self.recorded_session(), page), raw=True)

    def _reset(self, rest: str) -> None:
        self.recorded_session().clear()
        print(t("reset.done"))

    def _resume(self, rest: str) -> None:
        ref: int | str | None = rest or None
        # ASCII digits: "²" and "--1" are names, not indices
        if re.fullmatch(r"-?[0-9]+", rest):
            ref = int(rest)
        session = self.get_session()
        CellJob(self.shell).run(lambda on_event: session.resume(ref, on_event=on_event))

    # -- config ----------------------------------------------------------------

    @magic_arguments(name="%sora config")
    @argument("--base-url", help='The relay\'s URL ("" for $SORA_BASE_URL or the emulator).')
    @argument("--api-key", nargs="?", const="", help="Set the key; with no value, ask for it.")
    @argument("--model", help="Model for new videos.")
    @argument("--orientation", help="portrait, landscape, or none.")
    @argument("--save-dir", help='Folder for local copies ("" for none).')
    @argument("--language", help="auto, en or zh.")
    @argument("--session", help="Name of the session to record turns in.")
    @argument("--autosave", metavar="FILE", help='Keep the history in this file ("" for none).')
    @argument(
        "--dialect", help="The relay's kind: chat (default), videos, flow2api, a gateway, auto."
    )
    @argument("--help", "-h", action="store_true", help="Show this help.")
    def _config_args(self, line: str) -> None:
        """%sora config: show the settings, or change them."""

    def _config(self, rest: str) -> None:
        args = _parse(self._config_args, rest)
        if args.help:
            print(self._config_args.parser.format_help().strip())
            return
        if args.model is not None:
            self.model = validate_model(args.model)
        if args.orientation is not None:
            self.orientation = normalize_orientation(
                None if args.orientation == "none" else args.orientation
            )
        self._set_simple(args)
        if args.api_key is not None:
            self.api_key = args.api_key or self._ask_key()
        self._show_config()

    def _set_simple(self, args: Any) -> None:
        if args.base_url is not None:
            self.base_url = args.base_url.strip().rstrip("/") or None
        if args.save_dir is not None:
            self.save_dir = args.save_dir or None
        if args.language is not None:
            if args.language not in LANGUAGES:
                raise InvalidRequest(f"Unknown language {args.language!r}: use auto, en or zh.")
            self.language = args.language
        if args.session is not None:
            self.session = args.session
        if args.dialect is not None:
            # or one sentence refusing it
            self.dialect = dialect_for(args.dialect).name
        if args.autosave is not None:
            self.autosave = args.autosave or None
            if self.autosave is None:
                get_session(self.session).autosave = None

    def _ask_key(self) -> Secret | None:
        try:  # straight into a Secret: no frame holds the typed key
            return Secret.of(getpass.getpass(t("key.prompt")))
        except (StdinNotImplementedError, EOFError):
            raise InvalidRequest(t("error.no_stdin")) from None

    def _base_url_line(self) -> str:
        url = self.base_url or _config.env_base_url()
        if url:
            return shown_url(url)
        if self._client is not None and self._client.uses_emulator:
            return f"{self._client.base_url} ({t('config.emulator')})"
        return t("config.emulator_lazy")

    def _show_config(self) -> None:
        key = self.api_key or _config.env_api_key()
        source = " (SORA_API_KEY)" if key and not self.api_key else ""
        rows = [
            ("config.base_url", self._base_url_line()),
            ("config.api_key", mask_key(key) + source),
            ("config.model", self.model),
            ("config.orientation", self.orientation or t("config.relay_default")),
            (
                "config.save_dir",
                self.save_dir if self.save_dir and self.download else t("config.no_save"),
            ),
            ("config.language", f"{language()} ({self.language})"),
            ("config.session", self.session),
            ("config.autosave", self.autosave or t("key.not_set")),
            ("config.dialect", self.dialect or _config.env_dialect() or "chat"),
        ]
        display(settings_bundle([(t(label), value) for label, value in rows]), raw=True)


# ``%%sora?`` shows what ``%sora help`` prints.
SoraMagics.sora.__doc__ = "\n\n".join([_OPTIONS["en"], _COMMANDS["en"]])


def magics_for(shell: Any) -> SoraMagics:
    """The shell's ``SoraMagics``, registered on first use (by ``%load_ext`` or
    ``panel()``).
    """
    for configurable in shell.configurables:
        if isinstance(configurable, SoraMagics):
            return configurable
    magics = SoraMagics(shell=shell)
    shell.register_magics(magics)
    return magics


# ``%%sora … --help`` and nothing under it (the options' help, asked for before
# a prompt).
_EMPTY_HELP = re.compile(r"\s*%%sora\b[^\n]*?(?<!\S)(?:-h|--help)(?!\S)[^\n]*\s*\Z")


def _help_for_empty_cell(lines: list[str]) -> list[str]:
    """IPython refuses a cell magic with an empty body before the magic runs
    ("the cell body is empty"), so ``%%sora --help`` alone is rewritten to
    ``%sora help`` first.
    """
    return ["%sora help\n"] if _EMPTY_HELP.match("".join(lines)) else lines


_plain: list[SoraMagics] = []


def settings() -> SoraMagics:
    """The settings the views use: the shell's magics, or (marimo, a script) one
    of their own.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        return magics_for(shell)
    if not _plain:
        _plain.append(SoraMagics(shell=None))
    return _plain[0]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext sora_nb``."""
    magics_for(ipython)
    if _help_for_empty_cell not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(_help_for_empty_cell)
    open_widget_channel()
