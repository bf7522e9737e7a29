"""AdaIN explorer: any style image, one forward pass, a strength slider (Huang & Belongie 2017).

Thin over :mod:`vizlab.style.adain`: the photo's and each style's ``relu4_1`` features are encoded once and
cached, so moving the strength slider ``alpha`` costs one decoder pass and a style seen before costs nothing
more. Styles come from a picker (vizlab's style images) or an uploaded image file.

Example:
    >>> AdainExplorer("cat")            # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import io
from typing import Sequence

import ipywidgets as W
import numpy as np
import torch

from .._validate import check_number
from ..images import to_image
from ..style.adain import AdaIN, content_batch, feature_statistics, load_adain
from ..style.artwork import style_batch, style_names
from .base import Explorer, Timer

UPLOAD_PREFIX = "upload: "
#: The largest side a style image is encoded at by default (measured: at 192 px the AdaIN result is close to
#: 256 px encoding, at 128 px the strokes and colours change visibly; encoding at 192 costs 0.6x of 256).
STYLE_SIDE = 192


class AdainExplorer(Explorer):
    """Controls: ``style`` dropdown (vizlab's style images and uploads), ``upload`` button, ``alpha`` slider.

    Draws the photo, the style image and the stylised photo; the status line says how long the last update
    took and whether it was served from the cache.

    Args:
        content: the photo (sample name, path, URL, array, ``(1, 3, H, W)`` tensor).
        styles: names offered in the picker (default: :func:`~vizlab.style.artwork.style_names`).
        alpha: the first strength, in ``[0, 1]``.
        size: the side of the photo's square centre crop in pixels (cropped to a multiple of 8).
        style_size: the side the style image is encoded at (default: ``size``, at most :data:`STYLE_SIDE`: a new
            style then costs one small encoder pass and one decoder pass; only the style's per-channel mean
            and standard deviation are kept, per style).
        net: a loaded :class:`~vizlab.style.adain.AdaIN` (default: :func:`~vizlab.style.adain.load_adain`).

    Attributes:
        encoded: how many images were run through the encoder (cache misses), for tests.
        last_seconds: the time of the last update.
        output: the last stylised image, ``(1, 3, H, W)`` in ``[0, 1]``.
    """

    def __init__(self, content="cat", styles: Sequence[str] | None = None, *, alpha: float = 1.0,
                 size: int = 256, style_size: int | None = None, net: AdaIN | None = None):
        super().__init__()
        alpha = check_number("alpha", alpha, 0, 1)
        names = list(styles) if styles is not None else style_names()
        if not names:
            raise ValueError("styles must name at least one style image")
        self.net = load_adain() if net is None else net
        self.device = next(self.net.parameters()).device
        self.size, self.style_size = size, style_size or min(size, STYLE_SIDE)
        # a square centre crop: a landscape photo at its full width would cost 1.5x per update
        self.photo = content_batch(style_batch(None, content, size), None)
        self.encoded = 0
        self._style_images: dict[str, torch.Tensor] = {}
        self._style_feats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}   # label -> (mean, std)
        with torch.no_grad():
            self._content_feats = self._encode(self.photo)
        self.style = W.Dropdown(options=names, value=names[0], description="style")
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="upload style")
        self.alpha = W.FloatSlider(value=float(alpha), min=0.0, max=1.0, step=0.05, description="alpha",
                                   continuous_update=False)
        self.controls = [self.style, self.upload, self.alpha]
        self.output: torch.Tensor | None = None
        self.last_seconds = 0.0
        self.style.observe(lambda _: self.update(), names="value")
        self.alpha.observe(lambda _: self.update(), names="value")
        self.upload.observe(self._uploaded, names="value")
        self.update()

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        self.encoded += 1
        return self.net.encode(x.to(self.device))

    def add_style(self, name: str, image) -> str:
        """Offer ``image`` (anything :func:`~vizlab.style.artwork.style_batch` takes) under ``name``, select it
        and return the picker's label for it."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        label = name if name.startswith(UPLOAD_PREFIX) else UPLOAD_PREFIX + name
        self._style_images[label] = style_batch(None, image, self.style_size)
        self._style_feats.pop(label, None)
        if label not in self.style.options:
            self.style.options = [*self.style.options, label]
        if self.style.value == label:
            self.update()
        else:
            self.style.value = label  # triggers update()
        return label

    def _uploaded(self, change) -> None:
        files = change["new"]
        if not files:
            return
        item = files[-1] if isinstance(files, (list, tuple)) else list(files.values())[-1]
        data = bytes(item["content"])
        from PIL import Image

        try:
            image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32) / 255.0
        except Exception as exc:  # a file that is not an image: say so in the status line
            self.set_status(f"<b>error:</b> {item.get('name', 'upload')} is not an image file ({exc})")
            return
        digest = hashlib.sha1(data).hexdigest()[:6]
        self.add_style(f"{item.get('name', 'image')} ({digest})", image)

    def _style_features(self, label: str) -> tuple[torch.Tensor, bool]:
        if label in self._style_feats:
            return self._style_feats[label], True
        if label not in self._style_images:
            self._style_images[label] = style_batch(None, label, self.style_size)
        feats = feature_statistics(self._encode(self._style_images[label]))
        self._style_feats[label] = feats
        return feats, False

    @torch.no_grad()
    def update(self) -> None:
        """Stylise with the current style and alpha and redraw (called on every control change)."""
        from matplotlib.figure import Figure

        label, alpha = self.style.value, float(self.alpha.value)
        with Timer() as t:
            feats, cached = self._style_features(label)
            out = self.net.blend(self._content_feats, feats, alpha).clamp(0, 1).cpu()
        self.output, self.last_seconds = out, t.seconds
        fig = Figure(figsize=(8.4, 2.9))
        axes = fig.subplots(1, 3)
        panels = [(to_image(self.photo), "photo"), (to_image(self._style_images[label]), f"style: {label}"),
                  (to_image(out), f"AdaIN, alpha = {alpha:.2f}")]
        for ax, (img, title) in zip(axes, panels):
            ax.imshow(img)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        fig.tight_layout()
        self.show_figure(fig, f"{label} alpha={alpha:.2f}")
        self.set_status(f"{label}, alpha {alpha:.2f}: {t.seconds:.2f} s "
                        f"({'decoder only: style features cached' if cached else 'style encoded, then decoded'})")
