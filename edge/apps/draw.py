"""Draw digits with the mouse and watch the edge model read them (Tkinter).

    python -m edge.apps.draw                 # or: digits-draw
    digits-draw scan.png --model models/digits_float.tflite

The window only wires widgets, mouse, keys and menus; the drawing and what a reading shows come
from ``edge.apps.sketch``, and reading goes through the same pipeline as image mode.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path

try:
    import tkinter as tk
    from tkinter import filedialog, messagebox
except ImportError:  # Debian and Raspberry Pi OS ship Tkinter separately (python3-tk)
    tk = None  # type: ignore[assignment]

from edge import __version__
from edge.apps.recognize import add_model_arguments, fraction
from edge.runtime.settings import limit_blas_threads

PROG = "digits-draw"
TITLE = "Draw a digit - digits-draw"

# Layout and style, named once.
CANVAS_SIZE = (640, 320)  # width, height: room for four or five digits side by side
PEN_COLOUR = "#000000"  # must match edge.apps.sketch.INK, so the screen shows what is read
BOX_COLOUR = "#28aa28"
SELECTED_COLOUR = "#1f6fd1"
BAR_COLOUR = "#9db8cc"
BEST_BAR_COLOUR = "#1f6fd1"
STALE_COLOUR = "#a0a0a0"
TEXT_COLOUR = "#202020"
ERROR_COLOUR = "#b00020"
CHART_SIZE = (280, 160)
BAR_MAX = 110  # pixels for probability 1
AUTO_DELAY_MS = 350  # after the pen lifts, wait this long for another stroke before reading
IMAGE_TYPES = [("Images", "*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.gif *.pgm *.ppm"), ("All files", "*")]
KEYS = (
    ("Enter", "recognise"),
    ("Escape / Delete", "clear"),
    ("Ctrl+Z", "undo the last stroke"),
    ("Left / Right", "show another digit's probabilities"),
    ("Ctrl+O / Ctrl+S", "open an image / save the drawing"),
    ("Ctrl+Q", "quit"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Draw digits with the mouse and read them with the int8 TFLite model.",
        epilog="Exit status: 0 closed normally, 2 usage, model or display error.",
    )
    parser.add_argument("image", nargs="?", type=Path, help="an image to open and read at start")
    add_model_arguments(parser)
    parser.add_argument("-c", "--min-confidence", type=fraction, default=0.0, metavar="C",
                        help="digits below this confidence are shown as '?' (default 0: keep all)")
    parser.add_argument("--no-auto", action="store_true",
                        help="do not read the drawing when the pen lifts (press Enter or Recognise)")
    parser.add_argument("--report-to", type=Path, metavar="FILE",
                        help="write what the window shows to FILE as JSON whenever it changes (for automation and tests)")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def make_recognizer(args: argparse.Namespace):
    """The recogniser, built from the same flags as ``digits-recognize``; raises ModelError."""
    from edge.pipeline.recognizer import RecognizeOptions, build_recognizer
    from edge.runtime.settings import RuntimeSettings

    return build_recognizer(RuntimeSettings(args.model, args.backend, args.threads, args.string_model, not args.no_strings),
                            RecognizeOptions(min_confidence=args.min_confidence))


class DrawApp:
    """The window: a canvas to draw on, the result with its probability chart, menus and keys."""

    def __init__(self, root, recognizer, *, auto: bool = True, report_to: Path | None = None,
                 canvas_size: tuple[int, int] = CANVAS_SIZE) -> None:
        from edge.pipeline.recognizer import Recognizer, preset
        from edge.apps.sketch import Recognition, Sketch, View, pen_width

        self.root = root
        self.recognizer = recognizer
        # The canvas is always dark ink on white paper; opened images keep automatic polarity.
        options = recognizer.options
        self.sketch_recognizer = Recognizer(recognizer.classifier, preset("canvas", options), recognizer.strings)
        self.report_to = report_to
        width, height = canvas_size
        self.sketch = Sketch(width, height)
        spec = recognizer.classifier.metadata.input
        self.pen = pen_width(spec.stroke_width, spec.digit_box, height)
        self.result = Recognition()
        self.view = View()
        self.selected = 0
        self._opened = None  # full-resolution pixels of an opened image, read until drawn on
        self._opened_view = View()
        self._photo = None  # keeps the opened image's PhotoImage alive
        self._last = None  # last pen point
        self._stroke_tags: list[str] = []
        self._pending = None  # scheduled auto-recognition
        self.auto = tk.BooleanVar(root, value=auto)
        self.auto.trace_add("write", lambda *_: self._auto_changed())

        root.title(TITLE)
        self._build_menus()
        self._build_widgets(width, height)
        self._bind_keys()
        self.show(self.result)
        model = recognizer.classifier
        self.set_status(f"Draw a digit with the mouse; Enter reads it, Escape clears. Model {model.path.name} "
                        f"on {model.backend}, pen {self.pen} px.")
        self.canvas.focus_set()

    # ---- building the window -------------------------------------------------------------------

    def _build_menus(self) -> None:
        menubar = tk.Menu(self.root)
        file_menu = tk.Menu(menubar, tearoff=False)
        file_menu.add_command(label="Open image...", accelerator="Ctrl+O", command=self.open_dialog)
        file_menu.add_command(label="Save drawing...", accelerator="Ctrl+S", command=self.save_dialog)
        file_menu.add_separator()
        file_menu.add_command(label="Quit", accelerator="Ctrl+Q", command=self.root.destroy)
        menubar.add_cascade(label="File", menu=file_menu)
        edit_menu = tk.Menu(menubar, tearoff=False)
        edit_menu.add_command(label="Recognise", accelerator="Enter", command=self.recognise)
        edit_menu.add_command(label="Undo stroke", accelerator="Ctrl+Z", command=self.undo)
        edit_menu.add_command(label="Clear", accelerator="Esc", command=self.clear)
        edit_menu.add_separator()
        edit_menu.add_checkbutton(label="Recognise when the pen lifts", variable=self.auto)
        menubar.add_cascade(label="Edit", menu=edit_menu)
        help_menu = tk.Menu(menubar, tearoff=False)
        help_menu.add_command(label="Keyboard shortcuts", command=self._show_keys)
        menubar.add_cascade(label="Help", menu=help_menu)
        self.root.config(menu=menubar)

    def _build_widgets(self, width: int, height: int) -> None:
        body = tk.Frame(self.root, padx=10, pady=10)
        body.pack(fill="both", expand=True)

        left = tk.Frame(body)
        left.pack(side="left", anchor="n")
        self.canvas = tk.Canvas(left, width=width, height=height, bg="white", cursor="pencil",
                                highlightthickness=1, highlightbackground="#b0b0b0", highlightcolor="#6a9fd8")
        self.canvas.pack()
        self.canvas.bind("<ButtonPress-1>", self._pen_down)
        self.canvas.bind("<B1-Motion>", self._pen_move)
        self.canvas.bind("<ButtonRelease-1>", self._pen_up)
        buttons = tk.Frame(left, pady=8)
        buttons.pack(fill="x")
        self.recognise_button = tk.Button(buttons, text="Recognise", width=12, command=self.recognise)
        self.recognise_button.pack(side="left")
        self.clear_button = tk.Button(buttons, text="Clear", width=8, command=self.clear)
        self.clear_button.pack(side="left", padx=6)
        self.undo_button = tk.Button(buttons, text="Undo", width=8, command=self.undo)
        self.undo_button.pack(side="left")
        self.auto_check = tk.Checkbutton(buttons, text="Recognise when the pen lifts", variable=self.auto)
        self.auto_check.pack(side="right")

        # A fixed-size panel, so the window does not jump as results of different lengths come in.
        right = tk.Frame(body, padx=14, width=CHART_SIZE[0] + 28, height=height + 50)
        right.pack(side="left", fill="y", anchor="n")
        right.pack_propagate(False)
        tk.Label(right, text="Read as", fg="#606060").pack(anchor="w")
        self.result_label = tk.Label(right, text="", font=("Helvetica", 64, "bold"), fg=TEXT_COLOUR,
                                     anchor="w", justify="left")
        self.result_label.pack(anchor="w")
        self.confidence_label = tk.Label(right, text="", fg=TEXT_COLOUR, anchor="w")
        self.confidence_label.pack(anchor="w", fill="x")
        self.chart_caption = tk.Label(right, text="", fg="#606060", anchor="w")
        self.chart_caption.pack(anchor="w", fill="x", pady=(10, 0))
        self.chart = tk.Canvas(right, width=CHART_SIZE[0], height=CHART_SIZE[1], bg="white", highlightthickness=0)
        self.chart.pack(anchor="w")

        self.status = tk.Label(self.root, text="", anchor="w", relief="sunken", bd=1, padx=6)
        self.status.pack(side="bottom", fill="x")

    def _bind_keys(self) -> None:
        bindings = {
            "<Return>": self.recognise, "<KP_Enter>": self.recognise,
            "<Escape>": self.clear, "<Delete>": self.clear,
            "<Control-z>": self.undo, "<Control-o>": self.open_dialog, "<Control-s>": self.save_dialog,
            "<Control-q>": self.root.destroy,
            "<Left>": lambda: self.select(self.selected - 1), "<Right>": lambda: self.select(self.selected + 1),
        }
        for sequence, action in bindings.items():
            self.root.bind(sequence, lambda _event, action=action: action())
            if sequence.startswith("<Control-"):  # the same with Caps Lock on
                self.root.bind(sequence[:-2] + sequence[-2].upper() + ">", lambda _event, action=action: action())

    # ---- drawing -------------------------------------------------------------------------------

    def _pen_down(self, event) -> None:
        self._cancel_pending()
        self.canvas.delete("box")
        self.result_label.config(fg=STALE_COLOUR)  # the result no longer matches the drawing
        point = (event.x, event.y)
        self.sketch.begin(point, self.pen)
        tag = f"stroke{len(self._stroke_tags)}"
        self._stroke_tags.append(tag)
        r = self.pen / 2
        self.canvas.create_oval(event.x - r, event.y - r, event.x + r, event.y + r, fill=PEN_COLOUR, outline="",
                                tags=("stroke", tag))
        self._last = point

    def _pen_move(self, event) -> None:
        if self._last is None:
            return
        point = (event.x, event.y)
        if point == self._last:
            return
        self.sketch.extend(point)
        self.canvas.create_line(*self._last, *point, width=self.pen, fill=PEN_COLOUR, capstyle="round",
                                joinstyle="round", tags=("stroke", self._stroke_tags[-1]))
        self._last = point

    def _pen_up(self, _event) -> None:
        if self._last is None:
            return
        self.sketch.end()
        self._last = None
        if self.auto.get():
            self._pending = self.root.after(AUTO_DELAY_MS, self.recognise)
        else:
            self.set_status(f"{self._strokes_text()}: press Enter or Recognise to read")

    def _auto_changed(self) -> None:
        if self.auto.get():
            self.set_status("Reading the drawing each time the pen lifts")
        else:
            self._cancel_pending()
            self.set_status("Press Enter or Recognise to read the drawing")

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self.root.after_cancel(self._pending)
            self._pending = None

    def _strokes_text(self) -> str:
        n = self.sketch.strokes
        return "1 stroke" if n == 1 else f"{n} strokes"

    # ---- actions -------------------------------------------------------------------------------

    def recognise(self) -> None:
        """Read the drawing (or the opened image) and show the result."""
        from edge.apps.sketch import Recognition, View, recognise

        self._cancel_pending()
        if self.sketch.empty:
            self.show(Recognition())
            self.set_status("Nothing to read: draw a digit first")
            return
        if self._opened is not None and self.sketch.strokes == 0:
            result, view = recognise(self.recognizer, self._opened), self._opened_view
        elif self.sketch.has_background:  # strokes over an opened image: read what the canvas shows
            result, view = recognise(self.recognizer, self.sketch.image()), View()
        else:
            page, view = self.sketch.page()
            result = recognise(self.sketch_recognizer, page)
        self.set_status(result.summary(), report=False)  # show() reports both at once
        self.show(result, view)

    def clear(self) -> None:
        from edge.apps.sketch import Recognition

        self._cancel_pending()
        self.sketch.clear()
        self._opened = None
        self._photo = None
        self._stroke_tags.clear()
        self.canvas.delete("all")
        self.set_status("Cleared: draw a digit", report=False)
        self.show(Recognition())

    def undo(self) -> None:
        self._cancel_pending()
        if not self.sketch.undo():
            self.set_status("Nothing to undo")
            return
        if self._stroke_tags:
            self.canvas.delete(self._stroke_tags.pop())
        self.canvas.delete("box")
        self.result_label.config(fg=STALE_COLOUR)
        if self.auto.get() and not self.sketch.empty:
            self.recognise()
        else:
            self.set_status(f"Undone: {self._strokes_text()} left")

    def open_dialog(self) -> None:
        name = filedialog.askopenfilename(parent=self.root, title="Open an image", filetypes=IMAGE_TYPES)
        if name:
            self.open_path(Path(name))

    def open_path(self, path: Path) -> bool:
        """Show an image on the canvas and read it at full resolution; errors go to the status bar."""
        import cv2

        from edge.sources.images import ImageError, load_image

        try:
            loaded = load_image(path)
        except ImageError as exc:
            self.set_status(f"Cannot open {path.name}: {exc}", error=True)
            return False
        self.clear()
        self._opened = loaded.pixels
        self._opened_view = self.sketch.set_background(loaded.pixels)
        ok, png = cv2.imencode(".png", self.sketch.image())
        self._photo = tk.PhotoImage(master=self.root, data=base64.b64encode(png.tobytes()).decode("ascii"))
        self.canvas.create_image(0, 0, image=self._photo, anchor="nw", tags=("background",))
        self.root.title(f"{path.name} - {TITLE}")
        self.recognise()
        return True

    def save_dialog(self) -> None:
        if self.sketch.empty:
            self.set_status("Nothing to save yet: draw a digit first")
            return
        name = filedialog.asksaveasfilename(parent=self.root, title="Save the drawing as PNG",
                                            defaultextension=".png", initialfile="digits.png",
                                            filetypes=[("PNG image", "*.png")])
        if name:
            self.save_path(Path(name))

    def save_path(self, path: Path) -> bool:
        """Write the in-memory drawing as PNG (the name gets .png if it has another extension)."""
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        try:
            self.sketch.save(path)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self.set_status(f"Cannot save {path}: {reason}", error=True)
            return False
        self.set_status(f"Saved {path}")
        return True

    def select(self, index: int) -> None:
        """Show the probabilities of another digit of the reading."""
        if not self.result.digits:
            return
        self.selected = index % len(self.result.digits)
        self._draw_boxes()
        self._draw_chart()
        self.report()

    def _show_keys(self) -> None:
        messagebox.showinfo("Keyboard shortcuts", "\n".join(f"{key}: {what}" for key, what in KEYS),
                            parent=self.root)

    # ---- showing results -----------------------------------------------------------------------

    def show(self, result, view=None) -> None:
        """Put a reading on screen: the number large, its confidence, the chart and the boxes."""
        from edge.apps.sketch import View

        self.result = result
        self.view = view or View()
        self.selected = 0
        text = result.text
        lines = text.split("\n")
        longest = max(len(line) for line in lines)
        size = 64 if longest <= 3 else 48 if longest <= 5 else 32 if longest <= 8 else 20
        if len(lines) > 1:
            size = min(size, 60 // len(lines) + 8)
        self.result_label.config(text=text, fg=TEXT_COLOUR, font=("Helvetica", size, "bold"))
        # A reading took time (ms > 0); an empty Recognition() is the blank state before any.
        self.confidence_label.config(text=result.confidence_text() or ("no digit found" if result.ms else ""))
        self._draw_boxes()
        self._draw_chart()
        self.report()

    def _draw_boxes(self) -> None:
        self.canvas.delete("box")
        for index, digit in enumerate(self.result.digits):
            x0, y0, x1, y1 = self.view.box(digit.box)
            colour = SELECTED_COLOUR if index == self.selected and len(self.result.digits) > 1 else BOX_COLOUR
            self.canvas.create_rectangle(x0, y0, x1, y1, outline=colour, width=2, tags=("box",))
            # Small boxes (digits in an opened scan) get just the digit, so neighbours' labels do not overlap.
            label = f"{digit.char} {100 * digit.confidence:.0f}%" if x1 - x0 >= 44 else digit.char
            text = self.canvas.create_text(x0 + 3, max(0, y0 - 1), text=label, anchor="sw" if y0 > 16 else "nw",
                                           fill="white", font=("Helvetica", 10, "bold"), tags=("box",))
            bx0, by0, bx1, by1 = self.canvas.bbox(text)
            back = self.canvas.create_rectangle(bx0 - 3, by0, bx1 + 3, by1, fill=colour, outline=colour, tags=("box",))
            self.canvas.tag_lower(back, text)

    def _draw_chart(self) -> None:
        chart, result = self.chart, self.result
        chart.delete("all")
        width, height = CHART_SIZE
        labels = result.labels
        slot = width / len(labels)
        base = height - 20
        probs = result.probabilities[self.selected] if result.digits else [0.0] * len(labels)
        best = max(range(len(labels)), key=lambda i: probs[i]) if result.digits else -1
        chart.create_line(0, base, width, base, fill="#c0c0c0")
        for i, (label, p) in enumerate(zip(labels, probs)):
            x0 = i * slot + 0.2 * slot
            x1 = (i + 1) * slot - 0.2 * slot
            top = base - BAR_MAX * float(p)
            colour = BEST_BAR_COLOUR if i == best else BAR_COLOUR
            chart.create_rectangle(x0, top, x1, base, fill=colour, outline="", tags=("bar", f"bar{i}"))
            chart.create_text((x0 + x1) / 2, base + 10, text=label, fill=TEXT_COLOUR)
            if p >= 0.01:
                chart.create_text((x0 + x1) / 2, top - 8, text=f"{100 * p:.0f}", fill="#606060",
                                  font=("Helvetica", 8))
        if len(result.digits) > 1:
            caption = f"Probabilities, digit {self.selected + 1} of {len(result.digits)} (Left/Right)"
        elif result.digits:
            caption = "Probabilities"
        else:
            caption = ""
        self.chart_caption.config(text=caption)

    def set_status(self, text: str, error: bool = False, report: bool = True) -> None:
        self.status.config(text=text, fg=ERROR_COLOUR if error else TEXT_COLOUR)
        if report:
            self.report()

    def report(self) -> None:
        """With --report-to: what the widgets show now, as JSON, replaced atomically."""
        if self.report_to is None:
            return
        bars = []
        for i in range(len(self.result.labels)):
            items = self.chart.find_withtag(f"bar{i}")
            _, top, _, bottom = self.chart.coords(items[0]) if items else (0, 0, 0, 0)
            bars.append(round((bottom - top) / BAR_MAX, 3))
        state = {
            "result": self.result_label.cget("text"),
            "confidence": self.confidence_label.cget("text"),
            "chart": self.chart_caption.cget("text"),
            "bars": bars,
            "boxes": len(self.canvas.find_withtag("box")) // 3,
            "status": self.status.cget("text"),
            "strokes": self.sketch.strokes,
            "auto": bool(self.auto.get()),
            "title": self.root.title(),
            "widgets": {name: [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]
                        for name, w in (("canvas", self.canvas), ("recognise", self.recognise_button),
                                        ("clear", self.clear_button), ("undo", self.undo_button),
                                        ("auto", self.auto_check))},
        }
        temporary = self.report_to.with_name(self.report_to.name + ".tmp")
        try:
            temporary.write_text(json.dumps(state), encoding="utf-8")
            os.replace(temporary, self.report_to)
        except OSError as exc:
            print(f"{PROG}: cannot write {self.report_to}: {exc.strerror or exc}", file=sys.stderr)
            self.report_to = None


def _no_display_message() -> str:
    display = os.environ.get("DISPLAY")
    where = f"cannot open display {display!r}" if display else "no display"
    return f"{PROG}: {where}: set DISPLAY or run under Xvfb (xvfb-run {PROG})"


def main(argv: list[str] | None = None) -> int:
    limit_blas_threads()  # before numpy loads
    args = build_parser().parse_args(argv)
    if tk is None:
        print(f"{PROG}: Tkinter is not installed (Debian, Ubuntu, Raspberry Pi OS: sudo apt install python3-tk)",
              file=sys.stderr)
        return 2
    from edge.runtime.classifier import ModelError

    try:
        recognizer = make_recognizer(args)
    except ModelError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        root = tk.Tk(className=PROG)
    except tk.TclError:
        print(_no_display_message(), file=sys.stderr)
        return 2
    app = DrawApp(root, recognizer, auto=not args.no_auto, report_to=args.report_to)
    if args.image is not None:
        app.open_path(args.image)
    # Widget positions are known once the window is mapped: report them then (for --report-to).
    app.canvas.bind("<Map>", lambda _event: root.after(50, app.report))
    try:
        root.mainloop()
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
