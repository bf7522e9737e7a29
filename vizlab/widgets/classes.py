"""A class picker for explorers: the model's top-k classes in a dropdown, plus a search box by name."""
from __future__ import annotations

from typing import Callable, Sequence

import ipywidgets as W
import torch


def class_names(model) -> list[str]:
    """The model's class names, or ``"0"``, ``"1"``, ... for a model without ``categories``."""
    cats = getattr(model, "categories", None)
    if cats is None:
        raise ValueError("this explorer needs a model with .categories (class names), e.g. vizlab.load_model()")
    return list(cats)


class ClassPicker:
    """``dropdown`` (top-k, with probabilities) and ``search`` (a class name; press Enter).

    A name found by the search joins the dropdown and becomes its value; an unknown or ambiguous name
    goes to ``on_error`` and leaves the selection as it was. ``value`` is the class index.
    """

    def __init__(self, model, probs: torch.Tensor, *, k: int = 5, value: int | None = None,
                 on_error: Callable[[str], None] | None = None):
        self.model = model
        self.names: Sequence[str] = class_names(model)
        self.probs = probs.detach().float().cpu().reshape(-1)
        top = self.probs.topk(min(k, self.probs.numel())).indices.tolist()
        if value is not None and value not in top:
            top.append(value)
        self.dropdown = W.Dropdown(options=[self._label(i) for i in top], value=top[0] if value is None else value,
                                   description="class", layout=W.Layout(width="300px"))
        self.search = W.Text(value="", placeholder="search a class by name, e.g. tabby", description="search",
                             continuous_update=False, layout=W.Layout(width="300px"))
        self.on_error = on_error
        self.search.observe(self._on_search, names="value")

    def _label(self, i: int) -> tuple[str, int]:
        return f"{self.names[i]} ({float(self.probs[i]):.1%})", int(i)

    @property
    def value(self) -> int:
        return int(self.dropdown.value)

    @property
    def name(self) -> str:
        return self.names[self.value]

    def _on_search(self, change) -> None:
        text = str(change["new"]).strip()
        if not text:
            return
        try:
            idx = self.model.class_index(text)
        except (ValueError, TypeError) as exc:
            if self.on_error is not None:
                self.on_error(str(exc))
            return
        if idx not in [v for _, v in self.dropdown.options]:
            self.dropdown.options = [*self.dropdown.options, self._label(idx)]
        self.dropdown.value = idx

    @property
    def widgets(self) -> list[W.Widget]:
        return [self.dropdown, self.search]
