"""Round 16 (r16-swtex): the sliced Wasserstein loss (``synthesize_texture_vgg(loss="sliced")``, Heitz et al. 2021)
from noise, a tuning grid run with round 15's runner (``texture_vgg_r15.py``: every image and snapshot saved as it
is made, contact sheets, staging for ``texture_vgg_r11.py``'s blind pairs and scoring).

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/texture_vgg_r16.py run --out DIR sb sg ss ...
    python benchmarks/texture_vgg_r16.py sheet --out DIR --texture brick [--names ...]

All variants start from noise with the source's spectrum (``init="spectrum"``, the default): no quilt, no copied
source. 128 px from the 256-px source (the blind pairs' scale), unless said.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import texture_vgg_r15 as r15  # noqa: E402
from texture_vgg_r11 import RECIPES  # noqa: E402

#: the sliced loss on Heitz et al.'s layers (relu1_1 ... relu4_4), no other term
SLICED = dict(size=128, source_size=256, octaves=2, steps=[60, 100], loss="sliced", spectrum_weight=0.0)
#: brick's long-range correlations (round 11's: pool1-pool3 shifted Grams at weight 5)
LONG = dict(long_range_weight=5.0, long_range=RECIPES["brick"]["long_range"])

VARIANTS = {
    "sb": ("brick", SLICED),
    "sg": ("gravel", SLICED),
    "ss": ("brush", SLICED),
    # brick with round 11's structure terms: the spectrum constraint at 3 and the long-range correlations
    "sb_sl": ("brick", dict(SLICED, spectrum_weight=3.0, **LONG)),
    # after a look at the first snapshots (gravel's stones small and soft, brick's bricks crisp but its joints
    # jumbled): a third octave (32 -> 64 -> 128 px: the deepest layers span whole stones and courses at 32 px)
    "sg_o3": ("gravel", dict(SLICED, octaves=3, steps=[60, 60, 100])),
    "sb_sl_o3": ("brick", dict(SLICED, spectrum_weight=3.0, octaves=3, steps=[60, 60, 100], **LONG)),
    # brush at round 11-15's scale (96 px from the source at 384: larger strokes)
    "ss384": ("brush", dict(SLICED, size=96, source_size=384)),
    # brush in one octave at 128 px (Heitz et al.'s single scale): ``ss``'s two octaves left the coarse octave's
    # 2-px blocks and a blotchy, washed-out layout that the fine octave barely moved (its loss 0.0036 -> 0.0031);
    # at 64 px one octave from noise gave stroke-like patches (looked at, r16runs/peek_redraw.png)
    "ss_o1": ("brush", dict(SLICED, octaves=1, steps=[160])),
    # brick's layout (joints that run the whole tile) is larger than relu4_x sees at 128 px: relu5_1 added
    "sb_sl_l5": ("brick", dict(SLICED, spectrum_weight=3.0, layers=[
        "relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3", "relu3_4",
        "relu4_1", "relu4_2", "relu4_3", "relu4_4", "relu5_1"], **LONG)),
    # after swtex-1 (gravel: "stones are sharper" on the original, 10/10 realigned): the spectrum constraint at the
    # library's default weight 1 (Liu et al.: it keeps gravel's edges sharp)
    "sg_o3_sp1": ("gravel", dict(SLICED, octaves=3, steps=[60, 60, 100], spectrum_weight=1.0)),
    # and round 15's crispness lever beside the sliced loss: the patch term (relu3_1/relu4_1, weight 10, stride 1)
    "sg_o3_p10": ("gravel", dict(SLICED, octaves=3, steps=[60, 60, 100], patch_layers=["relu3_1", "relu4_1"],
                                 patch_weight=10.0, patch_stride=1)),
}
r15.VARIANTS.update(VARIANTS)

if __name__ == "__main__":
    r15.main()
