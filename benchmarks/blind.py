#!/usr/bin/env python3
"""Blind viewing of class images (issue 24): render untitled and shuffled, ask a viewer, score the guesses.

The protocol is in ``benchmarks/BLIND.md``. Three steps, three sub-commands:

    # 1. make the images: one per (recipe, class), shuffled, named img00.png ...; the key goes to another folder
    python benchmarks/blind.py render --recipes fourier maco --out /work/blind/r1 --key /work/blind-keys/r1.json
    # 2. the question for the viewer (only the image paths and the question; no class list, no recipe names)
    python benchmarks/blind.py prompt --out /work/blind/r1
    # 3. score the viewer's answers (a text file, one line per image: "img07: guess1; guess2; ...; guess5")
    python benchmarks/blind.py score --key /work/blind-keys/r1.json --guesses answers.txt [--json scored.json]

``score`` counts top-1 and top-5 per recipe and per class, under the accept lists of :data:`ACCEPT` (written
before any viewer answered: the ImageNet name and its usual synonyms; a "basic-level" column also accepts the
everyday category, e.g. "spider" for tarantula). It lists every guess it did not match, so a person can check
the matcher. ``proxy`` reports how well each automatic proxy stored in the key (Lite2's rank on the image and on
degraded copies, a natural-spectrum distance) agrees with the blind top-5 verdicts, pooled over any number of
scored rounds:

    python benchmarks/blind.py proxy --scored r1.json r2.json
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from pathlib import Path

import torch

ISSUE_CLASSES = ["flamingo", "goldfish", "volcano", "tarantula", "jellyfish", "pizza", "lemon", "monarch",
                 "peacock", "bell pepper"]

#: The recipes under test: ``(preset, changes)``. "fourier" and "cs231n" are the library's modes as they were
#: before issue 24; each other recipe changes one lever of the Fourier mode (or two, where named so).
RECIPES = {
    "fourier": ("fourier", {}),
    "cs231n": ("cs231n", {}),
    "maco": ("fourier", {"maco": True, "l2": 0.0}),
    "ensemble": ("fourier", {"ensemble": ("efficientnet_lite1",)}),
    "strong": ("fourier", {"transforms": "strong", "jitter": 16}),
    "decorrelate": ("fourier", {"decorrelate": True}),
    "steps150": ("fourier", {"steps": 150}),
    "maco_ensemble": ("fourier", {"maco": True, "l2": 0.0, "ensemble": ("efficientnet_lite1",)}),
    "maco_strong": ("fourier", {"maco": True, "l2": 0.0, "transforms": "strong", "jitter": 16}),
    # round 8: the centre-object prior (one object in a soft round window, a random ground behind it per step)
    "maco_centre": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3}),
    # ... and the model sees the image at 128 px (coarse structure: one object's shape, not fine texture), 100 steps
    "maco_centre_coarse": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100}),
    # round 9: the lecture's pixel recipe (pixels, L2, blur, jitter) with the same centre prior and coarse view
    "cs231n_centre": ("cs231n", {"centre": 0.3}),
    "cs231n_centre_coarse": ("cs231n", {"centre": 0.3, "view": 128}),
    # ... with a wider blur (sigma 2 -> 1 instead of 1 -> 0.3): the coarse view alone leaves aliasing grids
    "cs231n_centre_coarse_blur": ("cs231n", {"centre": 0.3, "view": 128, "blur_sigma": 2.0, "blur_end": 1.0}),
    # round 10: the default with a canvas of the view's side, enlarged (the detail the 128-px view cannot see
    # is not left as never-optimised noise)
    "maco_centre_coarse_canvas": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                              "canvas": 128}),
    # ... or a 160-px view (the lever frozen in round 10 by the proxies of benchmarks/converge.py)
    "maco_centre_view160": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 160, "steps": 100}),
    # round 11: the canvas recipe with a Lite0 + Lite1 ensemble (what the image shows must work for both), or
    # with the harsher scale/rotation robustness
    "canvas_ensemble": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                    "canvas": 128, "ensemble": ("efficientnet_lite1",)}),
    # ... and the lecture's pixel recipe with the same centre prior, view and canvas (a 128-px pixel canvas,
    # enlarged: no aliasing grid for the wider blur of round 9 to hide)
    "cs231n_centre_canvas": ("cs231n", {"centre": 0.3, "view": 128, "canvas": 128}),
    # round 12: the canvas recipe without the random colour behind the window (frozen as the default OBJECT in
    # commit 3f8f9d1 for the random draw; reverted after the blind counts: the ten 5/10 and 6/10)
    "canvas_nobackdrop": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                      "canvas": 128, "backdrop": False}),
    # round 12: the pixel candidate frozen in commit 2b6568a (then the CS231N preset; reverted after its blind
    # count): centre 0.3, view and canvas 128, strong scale/rotation; with a canvas the pixel mode's clamp and
    # blur write only their change back to it (params.upsampled(write="change"))
    "cs231n_r12": ("cs231n", {"centre": 0.3, "view": 128, "canvas": 128, "transforms": "strong"}),
    # ... or round 11's default (random ground) that optimises again on the plain ground only where Lite0's p at the
    # view stays below 0.5 (classes that never converge with the random ground; the issue's ten all do)
    # round 13: round 12's pixel candidate with the colour blurred apart from the brightness every 4 steps
    # (ChromaBlur, sigma 4 px: no independently coloured grain) - the lever that changed the look on the
    # development set (benchmarks/pixel_r13.py); octaves and Yosinski's clips did not
    "cs231n_r13_chroma": ("cs231n", {"centre": 0.3, "view": 128, "canvas": 128, "transforms": "strong",
                                     "chroma_blur": 4.0}),
    "cs231n_r13_chroma_blur2": ("cs231n", {"centre": 0.3, "view": 128, "canvas": 128, "transforms": "strong",
                                           "chroma_blur": 4.0, "blur_sigma": 2.0, "blur_end": 0.5}),
    # round 14: round 13's pixel candidate shown at full contrast (the assignment's deprocess(should_rescale=True):
    # classviz.rescaled about the window's grey; the optimisation is round 13's), and with the colour and plain
    # blurs every 8 steps instead of 4 (less damping, more colour) as well
    "cs231n_r14_rescale": ("cs231n", {"centre": 0.3, "view": 128, "canvas": 128, "transforms": "strong",
                                      "chroma_blur": 4.0, "blur_sigma": 2.0, "blur_end": 0.5, "rescale": True}),
    "cs231n_r14_rescale_bev8": ("cs231n", {"centre": 0.3, "view": 128, "canvas": 128, "transforms": "strong",
                                           "chroma_blur": 4.0, "blur_sigma": 2.0, "blur_end": 0.5, "rescale": True,
                                           "blur_every": 8}),
    # round 15: round 14's candidate with twice the steps (300: the step and blur schedules stretched). Rendered on
    # round 15's machine, round 14's recipe did not converge at the view for three of the ten (flamingo, pizza, lemon:
    # Lite0's p 0.03-0.77 at the view; round 14's images came from another CPU); with 300 steps all ten did
    "cs231n_r15_s300": ("cs231n", {"centre": 0.3, "view": 128, "canvas": 128, "transforms": "strong",
                                   "chroma_blur": 4.0, "blur_sigma": 2.0, "blur_end": 0.5, "rescale": True,
                                   "steps": 300}),
    # round 16: round 14's candidate (150 steps) with the class score of Lite0 and Lite1 (an ensemble: the picture
    # must show the class to both) and a second run on the plain grey ground where Lite0's p at the 128-px view of
    # the shown (stretched) picture stays below 0.5 (retry_plain; the better of the two at the view is kept)
    "cs231n_r16_ens_retry": ("cs231n", {"centre": 0.3, "view": 128, "canvas": 128, "transforms": "strong",
                                        "chroma_blur": 4.0, "blur_sigma": 2.0, "blur_end": 0.5, "rescale": True,
                                        "ensemble": ("efficientnet_lite1",), "retry_plain": 0.5}),
    "canvas_retry": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                 "canvas": 128, "retry_plain": 0.5}),
    "canvas_strong": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                  "canvas": 128, "transforms": "strong", "jitter": 16}),
    # round 13 (coordinator): the default with the colour channels' contrast moved to coarse scales
    "canvas_retry_ctilt1": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                        "canvas": 128, "retry_plain": 0.5, "colour_tilt": 1.0}),
    # round 14 (r14-random): the default plus a zoomed-out copy of the view every step (ZoomOut): the object must
    # also score small in a wider frame (the "part" failures of round 13's diagnosis); whole_only: that copy alone
    "canvas_retry_whole04": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                         "canvas": 128, "retry_plain": 0.5, "whole": 0.4}),
    # round 15 (r15-prior): a generator prior (AdaIN's decoder draws the canvas from a relu4_1 code with the photos'
    # channel statistics) and a Lite1 ensemble, the default's window, view, steps and retry otherwise: preset "prior"
    "prior_stats_ens": ("prior", {}),
    "canvas_retry_wholeonly06": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                             "canvas": 128, "retry_plain": 0.5, "whole": 0.6, "whole_only": True}),
    # round 16 (r16-random20): the default (round 12's OBJECT, its plain-ground second run included) with the Lite1
    # ensemble (what the image shows must work for two networks; round 11's canvas_ensemble plus the retry), chosen on
    # a random development set (seed 16016) over the generator prior with the retry (prior_retry_lr03 in converge.py)
    "canvas_retry_ensemble": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                          "canvas": 128, "retry_plain": 0.5, "ensemble": ("efficientnet_lite1",)}),
    # round 17 (r17-random20): the default (OBJECT_ENSEMBLE, round 16's canvas_retry_ensemble) with its plain-ground
    # second run judged by every network (retry_judge="members": the smallest member's p at the view decides whether
    # to run again and which run to keep; until now Lite0's alone), and the same with Lite2 as a third member (Lite2
    # then co-judges the image and is no longer an independent proxy)
    "canvas_retry_ensemble_members": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                                  "canvas": 128, "retry_plain": 0.5,
                                                  "ensemble": ("efficientnet_lite1",), "retry_judge": "members"}),
    "canvas_retry_ensemble3_members": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                                   "canvas": 128, "retry_plain": 0.5,
                                                   "ensemble": ("efficientnet_lite1", "efficientnet_lite2"),
                                                   "retry_judge": "members"}),
    # round 18 (r18-random20): the default (OBJECT_ENSEMBLE3, round 17's canvas_retry_ensemble3_members) with the
    # transformation robustness shrinking over the steps (transforms="shrinking": strong's jitter 16, scale 0.75-1.25
    # and 20 degrees at the first step, linearly to standard's jitter 8, scale 0.9-1.1 and 10 degrees at the last),
    # chosen on a random development draw (seed 18018, never scored) over "strong" throughout and 120 steps
    "canvas_retry_ensemble3_shrink": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                                  "canvas": 128, "retry_plain": 0.5,
                                                  "ensemble": ("efficientnet_lite1", "efficientnet_lite2"),
                                                  "retry_judge": "members", "transforms": "shrinking",
                                                  "jitter": 16}),
    # round 19 (r19-detail): the default (OBJECT_ENSEMBLE3) with a fine-detail last stage: after the run and its
    # plain-ground decision, 25 Adam steps (rate 0.15, cosine) on the kept image at 224 px (a MACO phase of the 224-px
    # photo magnitude projected from the enlarged canvas; view 224), chosen on a random development draw (seed
    # 19019, never scored) over 12 steps at 224 px (rates 0.05 and 0.10), 20 steps at 160 px, 25 steps at rate 0.08
    # and a Fourier parameterization at 224 px
    "canvas_retry_ensemble3_detail": ("fourier", {"maco": True, "l2": 0.0, "centre": 0.3, "view": 128, "steps": 100,
                                                  "canvas": 128, "retry_plain": 0.5,
                                                  "ensemble": ("efficientnet_lite1", "efficientnet_lite2"),
                                                  "retry_judge": "members", "detail_steps": 25, "detail_view": 224,
                                                  "detail_lr": 0.15}),
    # round 20 (r20-lever): today's default (OBJECT_ENSEMBLE3_DETAIL, round 19's canvas_retry_ensemble3_detail with the
    # stage at the image's side) with round 18's shrinking transforms in the 128-px run (transforms="shrinking",
    # jitter=16), chosen on a random development draw (seed 20020, never scored, plus round 19's strict misses) over
    # detail stages of 40 steps, rate 0.25, a log-softmax objective, the colour at 0.7 and 0.5 of the photos'
    "canvas_retry_ensemble3_shrink_detail": ("object_ensemble3_detail", {"transforms": "shrinking", "jitter": 16}),
}

#: What counts as naming the class (strict), and the everyday category that a "basic-level" count also accepts
#: (besides the strict phrases).
#: Matching is by whole words, case-insensitive, a plural "s"/"es" dropped. Written before any viewer answered.
ACCEPT = {
    "flamingo": (["flamingo"], ["flamingo"]),
    "goldfish": (["goldfish", "gold fish"], ["fish", "koi", "carp"]),
    "volcano": (["volcano", "eruption", "erupting", "lava"], ["volcano", "lava", "magma"]),
    "tarantula": (["tarantula"], ["spider"]),
    "jellyfish": (["jellyfish", "jelly fish", "medusa"], ["jellyfish", "jelly"]),
    "pizza": (["pizza"], ["pizza"]),
    "lemon": (["lemon"], ["lemon", "citrus", "lime"]),
    "monarch": (["monarch"], ["butterfly"]),
    "peacock": (["peacock", "peafowl", "peahen", "peacock feather"], ["peacock", "peafowl", "feather"]),
    "bell pepper": (["bell pepper", "pepper", "capsicum", "paprika"], ["pepper", "capsicum", "paprika"]),
    # round 8's fresh set of 20 (classes a person names from a picture; written before any viewer answered)
    "giant panda": (["giant panda", "panda"], ["panda", "bear"]),
    "zebra": (["zebra"], ["zebra"]),
    "koala": (["koala"], ["koala"]),
    "toucan": (["toucan"], ["toucan", "hornbill"]),
    "ladybug": (["ladybug", "ladybird", "lady beetle"], ["beetle"]),
    "starfish": (["starfish", "sea star"], ["starfish"]),
    "snail": (["snail"], ["snail", "shell", "slug"]),
    "hummingbird": (["hummingbird", "humming bird"], ["hummingbird"]),
    "ostrich": (["ostrich"], ["ostrich", "emu"]),
    "tiger": (["tiger"], ["tiger"]),
    "strawberry": (["strawberry", "strawberries"], ["strawberry", "strawberries", "berry", "berries"]),
    "banana": (["banana"], ["banana"]),
    "pineapple": (["pineapple", "ananas"], ["pineapple"]),
    "broccoli": (["broccoli"], ["broccoli", "cauliflower"]),
    "school bus": (["school bus", "schoolbus"], ["bus", "buses"]),
    "fire engine": (["fire engine", "fire truck", "firetruck", "fire appliance"], ["truck", "fire"]),
    "airliner": (["airliner", "jetliner", "passenger jet", "passenger plane", "passenger aircraft"],
                 ["airplane", "aeroplane", "plane", "jet", "aircraft"]),
    "umbrella": (["umbrella", "parasol"], ["umbrella"]),
    "teddy": (["teddy", "teddy bear"], ["stuffed animal", "plush", "soft toy", "stuffed toy"]),
    "soccer ball": (["soccer ball", "football"], ["ball"]),
    # round 9's random set (--random 20 --random-seed 61206, drawn from all 1000 classes; written before any
    # image of them was rendered); bell pepper and volcano are above
    "packet": (["packet", "package", "pack", "sachet"], ["bag", "pouch", "wrapper"]),
    "spotted salamander": (["spotted salamander", "salamander"], ["newt", "amphibian"]),
    "abacus": (["abacus"], ["counting frame"]),
    "drumstick": (["drumstick", "drum stick"], ["drum stick"]),
    "Leonberg": (["Leonberg", "Leonberger"], ["dog"]),
    "long-horned beetle": (["long-horned beetle", "long horned beetle", "longhorn beetle", "longhorn",
                            "capricorn beetle"], ["beetle"]),
    "Australian terrier": (["Australian terrier"], ["dog", "terrier"]),
    "puck": (["puck", "hockey puck"], ["hockey"]),
    "chiffonier": (["chiffonier", "commode", "chest of drawers", "dresser"],
                   ["chest", "drawer", "cabinet", "cupboard", "sideboard"]),
    "thunder snake": (["thunder snake", "worm snake"], ["snake"]),
    "whippet": (["whippet"], ["dog", "greyhound"]),
    "Indian elephant": (["Indian elephant", "Asian elephant"], ["elephant"]),
    "frying pan": (["frying pan", "frypan", "skillet", "pan"], ["wok", "cookware"]),
    "espresso": (["espresso"], ["coffee", "cappuccino", "latte"]),
    "agama": (["agama"], ["lizard"]),
    "valley": (["valley", "vale"], ["mountain", "landscape", "hillside"]),
    "Weimaraner": (["Weimaraner"], ["dog"]),
    "paper towel": (["paper towel", "kitchen roll", "paper roll", "towel roll"],
                    ["towel", "toilet paper", "toilet roll", "tissue"]),
    # round 10's random set (--random 20 --random-seed 37199, drawn after the recipe was frozen in commit 65cf350;
    # written before any image of them was rendered); abacus is above. "scale" alone is left out on purpose:
    # it would match "fish scales"
    "binoculars": (["binoculars", "binocular", "field glasses", "opera glasses"], ["telescope"]),
    "water jug": (["water jug", "jug"], ["pitcher", "carafe", "jar"]),
    "Gordon setter": (["Gordon setter", "setter"], ["dog"]),
    "quail": (["quail"], ["bird", "partridge", "grouse"]),
    "boa constrictor": (["boa constrictor", "boa"], ["snake", "python"]),
    "academic gown": (["academic gown", "graduation gown", "graduation robe", "academic robe", "graduation"],
                      ["gown", "robe", "cloak"]),
    "beer glass": (["beer glass", "beer", "pint glass", "pint"], ["glass", "mug", "drink"]),
    "passenger car": (["passenger car", "railway car", "railroad car", "train car", "carriage", "coach", "railcar"],
                      ["train", "railway", "tram", "wagon"]),
    "photocopier": (["photocopier", "copier", "copy machine", "photocopy machine"], ["printer", "scanner", "fax"]),
    "hamper": (["hamper", "picnic basket", "laundry basket"], ["basket", "wicker"]),
    "pitcher": (["pitcher", "jug", "ewer"], ["vase", "jar", "carafe"]),
    "coil": (["coil", "spiral", "helix", "spring"], ["rope", "wire"]),
    "Shetland sheepdog": (["Shetland sheepdog", "sheltie", "collie"], ["dog", "sheepdog"]),
    "otter": (["otter"], ["weasel", "mink", "ferret"]),
    "scale": (["weighing scale", "balance scale", "kitchen scale", "bathroom scale", "postal scale",
               "weighing machine", "balance"], ["weighing", "weight"]),
    "chambered nautilus": (["chambered nautilus", "nautilus"], ["shell", "seashell", "snail", "ammonite"]),
    "fountain": (["fountain"], ["geyser", "sprinkler"]),
    "howler monkey": (["howler monkey", "howler"], ["monkey", "ape", "primate"]),
    "typewriter keyboard": (["typewriter keyboard", "typewriter", "keyboard"], ["keys", "computer", "laptop"]),
    # round 11's random set (--random 20 --random-seed 77716, drawn after the candidate canvas_ensemble was
    # frozen in commit 3e86c91; written before any image of them was rendered). ImageNet's "amphibian" is the
    # amphibious vehicle, "thresher" the threshing machine, "admiral" the butterfly
    "thresher": (["thresher", "threshing machine", "thrasher", "combine harvester", "combine"],
                 ["harvester", "tractor", "farm machine", "agricultural machine"]),
    "wire-haired fox terrier": (["wire-haired fox terrier", "wire haired fox terrier", "fox terrier",
                                 "wirehaired terrier", "wire fox terrier"], ["dog", "terrier"]),
    "cougar": (["cougar", "puma", "mountain lion", "catamount", "panther"], ["big cat", "lion", "cat"]),
    "screwdriver": (["screwdriver", "screw driver"], ["tool"]),
    "amphibian": (["amphibian", "amphibious vehicle", "amphibious car", "duck boat", "amphicar"],
                  ["boat", "vehicle", "jeep", "car"]),
    "cornet": (["cornet", "trumpet", "bugle", "flugelhorn"], ["horn", "brass", "instrument", "tuba"]),
    "tile roof": (["tile roof", "roof tile", "tiled roof", "roof"], ["tile", "shingle", "house", "building"]),
    "alp": (["alp", "alps", "alpine", "snowy mountain", "mountain peak", "snow-capped mountain"],
            ["mountain", "peak", "landscape", "hill", "glacier", "snow"]),
    "black widow": (["black widow", "widow spider"], ["spider"]),
    "digital clock": (["digital clock", "alarm clock", "clock radio", "led clock"], ["clock", "display", "timer"]),
    "knot": (["knot"], ["rope", "string", "cord", "twine"]),
    "modem": (["modem", "router"], ["electronics", "box", "network"]),
    "fountain pen": (["fountain pen", "pen", "nib"], ["writing", "ink"]),
    "robin": (["robin", "american robin"], ["bird", "thrush"]),
    "pedestal": (["pedestal", "plinth", "footstall", "column base"], ["column", "pillar", "statue", "stand"]),
    "comic book": (["comic book", "comic", "comics", "graphic novel", "cartoon"], ["book", "magazine"]),
    "admiral": (["admiral", "red admiral"], ["butterfly", "moth"]),
    "overskirt": (["overskirt", "skirt"], ["dress", "gown", "petticoat", "tutu"]),
    "barrel": (["barrel", "cask", "keg"], ["drum", "tun", "vat"]),
    "streetcar": (["streetcar", "tram", "tramcar", "trolley", "trolley car", "cable car", "street car"],
                  ["train", "bus", "railcar", "passenger car"]),
    # round 12's random set (--random 20 --random-seed 2392, drawn after canvas_nobackdrop was frozen as the
    # default OBJECT in commit 3f8f9d1; written before any image of them was rendered; photocopier and chambered
    # nautilus are round 10's entries). ImageNet's "monitor" is the computer screen, "half track" the vehicle
    "swimming trunks": (["swimming trunks", "swim trunks", "bathing trunks", "swim shorts", "board shorts",
                         "swimsuit", "trunks"], ["shorts", "swimwear", "bathing suit", "underwear"]),
    "ice bear": (["ice bear", "polar bear"], ["bear"]),
    "racket": (["racket", "racquet"], ["tennis", "badminton", "squash"]),
    "boathouse": (["boathouse", "boat house"], ["house", "dock", "pier", "cabin", "shed", "building", "barn"]),
    "bottlecap": (["bottlecap", "bottle cap", "crown cap", "beer cap", "bottle top"], ["cap", "lid"]),
    "cleaver": (["cleaver", "meat cleaver", "chopper", "butcher knife"], ["knife", "axe", "hatchet", "blade"]),
    "tiger cat": (["tiger cat", "tabby", "striped cat"], ["cat", "kitten"]),
    "ambulance": (["ambulance"], ["van", "vehicle", "truck", "emergency vehicle", "car"]),
    "EntleBucher": (["entlebucher", "sennenhund", "mountain dog", "appenzeller"], ["dog", "puppy"]),
    "tricycle": (["tricycle", "trike"], ["bicycle", "bike", "cycle"]),
    "sea urchin": (["sea urchin", "urchin"], ["echinoderm"]),
    "monitor": (["monitor", "computer screen", "display", "screen"], ["computer", "television", "tv", "desktop"]),
    "dishrag": (["dishrag", "dish rag", "dishcloth", "dish cloth", "rag", "cloth", "towel", "washcloth"],
                ["fabric", "textile"]),
    "barbell": (["barbell", "dumbbell", "weights", "weight plate"], ["gym", "weight", "weightlifting"]),
    "half track": (["half track", "halftrack", "half-track"], ["tank", "military vehicle", "armored vehicle",
                                                               "armoured vehicle", "truck", "vehicle"]),
    "stingray": (["stingray", "sting ray", "ray", "manta"], ["fish", "skate"]),
    "Scottish deerhound": (["scottish deerhound", "deerhound", "wolfhound"], ["dog", "hound", "greyhound"]),
    "Yorkshire terrier": (["yorkshire terrier", "yorkie"], ["dog", "terrier", "puppy"]),
    # round 12's second random set (--random 20 --random-seed 71131, drawn after canvas_retry was frozen in commit
    # 1c6ac0d; written before any image of them was rendered; typewriter keyboard and boa constrictor are round
    # 10's entries). ImageNet's "tank" is the army tank, "bubble" the soap bubble
    "bubble": (["bubble", "soap bubble"], ["sphere", "orb", "balloon"]),
    "sweatshirt": (["sweatshirt", "hoodie", "sweater", "jumper", "pullover"], ["shirt", "jacket", "clothing", "top"]),
    "crayfish": (["crayfish", "crawfish", "crawdad"], ["lobster", "crab", "shrimp", "prawn", "crustacean"]),
    "plate rack": (["plate rack", "dish rack", "dish drainer", "drying rack"], ["rack", "plate", "dish", "shelf"]),
    "kelpie": (["kelpie"], ["dog", "sheepdog", "puppy"]),
    "tank": (["tank", "armored vehicle", "armoured vehicle"], ["military vehicle", "vehicle", "truck"]),
    "isopod": (["isopod", "woodlouse", "pill bug", "pillbug", "sowbug", "roly poly"],
               ["bug", "insect", "crustacean", "trilobite"]),
    "potter's wheel": (["potter's wheel", "pottery wheel", "pottery"], ["pot", "vase", "ceramic", "clay"]),
    "Blenheim spaniel": (["blenheim spaniel", "king charles spaniel", "cavalier", "spaniel"], ["dog", "puppy"]),
    "lorikeet": (["lorikeet", "lory"], ["parrot", "bird", "parakeet", "budgie"]),
    "sock": (["sock"], ["stocking", "clothing", "mitten"]),
    "spotlight": (["spotlight", "spot light", "stage light", "floodlight", "searchlight"], ["lamp", "light",
                                                                                          "projector"]),
    "pop bottle": (["pop bottle", "soda bottle", "bottle"], ["soda", "cola", "drink"]),
    "miniature poodle": (["miniature poodle", "poodle"], ["dog", "puppy"]),
    "snow leopard": (["snow leopard"], ["leopard", "big cat", "cat", "cheetah", "jaguar"]),
    "junco": (["junco", "snowbird"], ["bird", "sparrow", "finch"]),
    "leaf beetle": (["leaf beetle", "beetle"], ["bug", "insect", "ladybug", "ladybird"]),
    "bicycle-built-for-two": (["bicycle-built-for-two", "tandem"], ["bicycle", "bike", "cycle"]),
    # round 13's random set (--random 20 --random-seed 34666, drawn after the default was frozen unchanged at commit
    # e32ba5c; written before any image of them was rendered; broccoli, pitcher and sweatshirt are earlier rounds'
    # entries). ImageNet's "pick" is the guitar pick (plectrum), "cash machine" the ATM, "velvet" the fabric
    "whiskey jug": (["whiskey jug", "whisky jug", "jug", "moonshine jug"],
                    ["pitcher", "ewer", "vase", "jar", "pot", "urn", "bottle"]),
    "Dungeness crab": (["dungeness crab"], ["crab", "crustacean"]),
    "refrigerator": (["refrigerator", "fridge", "icebox", "freezer"], ["appliance"]),
    "velvet": (["velvet", "velour", "velveteen"], ["fabric", "cloth", "textile", "curtain", "drape"]),
    "perfume": (["perfume", "perfume bottle", "cologne", "fragrance", "scent bottle"], ["bottle", "flask"]),
    "cash machine": (["cash machine", "atm", "cash dispenser", "automated teller", "cashpoint"],
                     ["kiosk", "vending machine", "terminal"]),
    "cabbage butterfly": (["cabbage butterfly", "cabbage white", "white butterfly", "pieris"], ["butterfly", "moth"]),
    "bassoon": (["bassoon"], ["oboe", "clarinet", "woodwind", "instrument"]),
    "maypole": (["maypole", "may pole"], ["pole", "ribbon"]),
    "bolo tie": (["bolo tie", "bola tie", "bolo", "string tie", "bootlace tie"],
                 ["tie", "necktie", "pendant", "necklace", "brooch"]),
    "bee": (["bee", "honeybee", "bumblebee"], ["wasp", "hornet", "insect"]),
    "fly": (["fly", "housefly", "blowfly", "bluebottle"], ["insect", "bug"]),
    "pick": (["guitar pick", "plectrum", "pick"], ["guitar"]),
    "book jacket": (["book jacket", "dust jacket", "book cover", "dust cover"], ["book", "cover", "magazine"]),
    "screw": (["screw"], ["bolt", "nail", "nut", "hardware"]),
    "llama": (["llama", "alpaca", "guanaco", "vicuna"], ["camel", "camelid"]),
    "badger": (["badger"], ["badger"]),
    # round 14's random set (--random 20 --random-seed 11919, drawn after the candidate canvas_retry_whole04 was
    # frozen at commit 041e1e1; written before any image of them was rendered; cabbage butterfly is round 13's
    # entry). ImageNet's "bannister" is the handrail, "confectionery" the sweet shop, "binder" the ring binder,
    # "agaric" the gilled mushroom, "stinkhorn" the phallus-shaped fungus, "titi" the monkey, "indri" the lemur
    "bannister": (["bannister", "banister", "handrail", "balustrade", "railing", "stair rail"],
                  ["stairs", "staircase", "stairway", "rail", "fence"]),
    "mobile home": (["mobile home", "trailer", "caravan", "trailer home", "motorhome", "camper"],
                    ["house", "home", "cabin", "vehicle", "rv"]),
    "cocktail shaker": (["cocktail shaker", "shaker"], ["flask", "bottle", "canister", "thermos", "tumbler",
                                                         "cup"]),
    "agaric": (["agaric", "fly agaric", "amanita", "mushroom", "toadstool"], ["fungus", "fungi"]),
    "cheetah": (["cheetah"], ["leopard", "jaguar", "big cat", "cat"]),
    "bow tie": (["bow tie", "bowtie", "bow-tie"], ["tie", "bow", "necktie"]),
    "wall clock": (["wall clock", "clock"], ["watch", "timepiece"]),
    "fireboat": (["fireboat", "fire boat"], ["boat", "ship", "tugboat", "tug", "vessel"]),
    "confectionery": (["confectionery", "sweet shop", "candy store", "candy shop", "confectioner"],
                      ["candy", "sweets", "shop", "store", "lollipop", "candies"]),
    "dugong": (["dugong", "sea cow", "manatee"], ["seal", "walrus", "sea lion", "marine mammal"]),
    "stinkhorn": (["stinkhorn", "phallus"], ["mushroom", "fungus", "fungi", "toadstool"]),
    "indri": (["indri", "lemur"], ["monkey", "primate", "ape"]),
    "rock beauty": (["rock beauty", "angelfish", "angel fish"], ["fish", "reef fish", "tropical fish"]),
    "binder": (["binder", "ring binder", "folder", "ring folder"], ["notebook", "file", "book"]),
    "joystick": (["joystick", "joy stick"], ["controller", "game controller", "gamepad", "lever"]),
    "titi": (["titi", "titi monkey"], ["monkey", "primate", "marmoset", "tamarin", "lemur"]),
    "red wine": (["red wine", "wine"], ["glass", "wine glass", "drink", "grape", "juice"]),
    "greenhouse": (["greenhouse", "glasshouse", "hothouse", "conservatory", "nursery"], ["garden", "building",
                                                                                        "shed"]),
    # round 15's random set (--random 20 --random-seed 44342, drawn after the candidate prior_stats_ens was frozen
    # at commit 6c48d75; written before any image of them was rendered; Weimaraner and dugong have entries above).
    # ImageNet's "slot" is the slot machine (one-armed bandit), "bell cote" a small bell tower on a roof, "Angora"
    # the rabbit, "bighorn" the sheep, "cliff dwelling" the houses built into a cliff (Mesa Verde)
    "bighorn": (["bighorn", "bighorn sheep", "mountain sheep", "ram"], ["sheep", "goat", "ibex", "mountain goat"]),
    "dining table": (["dining table", "table", "dinner table"], ["furniture", "desk", "dining room"]),
    "megalith": (["megalith", "stonehenge", "standing stone", "menhir", "dolmen", "stone circle", "monolith"],
                 ["stone", "rock", "boulder", "monument", "ruin"]),
    "shopping cart": (["shopping cart", "shopping trolley", "trolley", "cart"], ["basket", "wagon"]),
    "bell cote": (["bell cote", "bellcote", "bell tower", "belfry", "bell gable", "steeple"],
                  ["church", "chapel", "tower", "bell", "roof"]),
    "sewing machine": (["sewing machine"], ["machine", "sewing"]),
    "slot": (["slot machine", "one-armed bandit", "fruit machine", "slot", "pokie"], ["casino", "gambling",
                                                                                      "arcade", "jackpot"]),
    "quilt": (["quilt", "comforter", "patchwork", "duvet", "eiderdown"], ["blanket", "bedspread", "fabric",
                                                                           "textile"]),
    "Irish water spaniel": (["Irish water spaniel", "water spaniel"], ["dog", "spaniel", "poodle", "puppy"]),
    "Angora": (["Angora", "Angora rabbit"], ["rabbit", "bunny", "hare"]),
    "Windsor tie": (["Windsor tie", "Windsor knot"], ["tie", "necktie", "neckwear", "cravat", "bow tie"]),
    "Irish setter": (["Irish setter", "red setter"], ["dog", "setter", "retriever", "spaniel", "puppy"]),
    "disk brake": (["disk brake", "disc brake", "brake disc", "brake rotor", "rotor", "brake"],
                   ["wheel", "hub", "gear", "disc", "disk"]),
    "proboscis monkey": (["proboscis monkey"], ["monkey", "primate", "ape"]),
    "flat-coated retriever": (["flat-coated retriever", "flat coated retriever", "flatcoat"],
                              ["dog", "retriever", "labrador", "puppy"]),
    "hare": (["hare", "jackrabbit"], ["rabbit", "bunny"]),
    "affenpinscher": (["affenpinscher", "monkey pinscher", "monkey dog"], ["dog", "terrier", "griffon",
                                                                          "schnauzer", "puppy"]),
    "cliff dwelling": (["cliff dwelling", "cliff house", "cliff palace", "pueblo", "mesa verde", "cave dwelling"],
                       ["ruin", "ruins", "cliff", "village", "adobe", "canyon"]),
    # round 16 (r16-random20): seed 12009's draw, written before any image of it. ImageNet's "vacuum" is the vacuum
    # cleaner, "hip" the rose hip, "grille" a car's radiator grille, "ram" the male domestic sheep (tup), "torch" a
    # flaming torch, "stole" the shawl, "puffer" the pufferfish, "jacamar" the long-billed tropical bird
    "shovel": (["shovel", "spade"], ["tool", "trowel", "garden tool"]),
    "vacuum": (["vacuum", "vacuum cleaner", "hoover"], ["appliance", "cleaner"]),
    "hippopotamus": (["hippopotamus", "hippo"], ["rhinoceros", "rhino", "pig", "animal"]),
    "prairie chicken": (["prairie chicken", "prairie hen", "prairie grouse"],
                        ["grouse", "bird", "chicken", "hen", "quail", "pheasant", "partridge", "ptarmigan"]),
    "hip": (["rose hip", "rosehip", "hip"], ["berry", "berries", "fruit", "rose", "cranberry", "cherry"]),
    "unicycle": (["unicycle", "monocycle"], ["bicycle", "bike", "cycle", "wheel"]),
    "drilling platform": (["drilling platform", "oil platform", "oil rig", "drilling rig", "offshore platform",
                           "offshore rig", "rig"], ["platform", "oil", "derrick", "tower", "refinery"]),
    "coral fungus": (["coral fungus", "coral mushroom", "clavaria"], ["fungus", "fungi", "mushroom", "coral"]),
    "grille": (["grille", "radiator grille", "radiator grill", "radiator"], ["grill", "car", "truck", "bumper",
                                                                             "vehicle", "headlight"]),
    "jacamar": (["jacamar"], ["bird", "hummingbird", "kingfisher", "bee-eater", "bee eater"]),
    "puffer": (["puffer", "pufferfish", "puffer fish", "blowfish", "globefish", "fugu"],
               ["fish", "porcupinefish", "porcupine fish"]),
    "ram": (["ram", "tup"], ["sheep", "lamb", "ewe", "goat", "bighorn", "mouflon", "animal"]),
    "printer": (["printer", "laser printer", "inkjet"], ["photocopier", "copier", "office machine", "machine",
                                                        "fax", "scanner"]),
    "torch": (["torch", "flaming torch", "firebrand", "flambeau"], ["fire", "flame", "candle", "bonfire",
                                                                   "campfire"]),
    "red fox": (["red fox"], ["fox", "dog", "jackal", "coyote", "canine", "animal"]),
    "stole": (["stole", "shawl", "pashmina", "tippet"], ["scarf", "wrap", "boa", "fabric", "cloth", "textile",
                                                         "garment", "clothing", "fur"]),
    "mashed potato": (["mashed potato", "mashed potatoes", "mash", "potato puree", "pomme puree"],
                      ["potato", "food", "puree", "porridge", "dish"]),
    "convertible": (["convertible", "cabriolet", "drop top", "drop-top"],
                    ["roadster", "sports car", "car", "automobile", "vehicle"]),
    "Arabian camel": (["Arabian camel", "dromedary", "camel"], ["llama", "animal"]),
    "iPod": (["ipod", "mp3 player", "music player", "media player"], ["phone", "smartphone", "device",
                                                                       "player", "gadget"]),
    # round 16 (r16-confirm): seed 18962's draw, written before any image of it (Shetland sheepdog had one). ImageNet's
    # "cup" is a drinking cup (teacup; "coffee mug" is its own class), "chest" a lidded storage box ("chest of drawers"
    # also matches the strict phrase: a known leak), "web site" a screenshot of a web page, "harvestman" the
    # daddy longlegs (an arachnid), "American egret" the great egret
    "American egret": (["American egret", "great egret", "great white egret", "egret"],
                       ["heron", "white heron", "bird", "crane", "stork", "ibis", "wading bird"]),
    "toilet tissue": (["toilet tissue", "toilet paper", "toilet roll", "bathroom tissue", "loo roll"],
                      ["paper towel", "tissue", "paper roll", "roll", "paper"]),
    "cup": (["cup", "teacup", "tea cup", "coffee cup"], ["mug", "bowl", "glass", "goblet", "chalice", "vessel"]),
    "safety pin": (["safety pin", "nappy pin", "diaper pin"], ["pin", "paper clip", "paperclip", "clip", "brooch"]),
    "damselfly": (["damselfly", "damsel fly"], ["dragonfly", "insect", "bug", "mayfly"]),
    "schooner": (["schooner"], ["sailboat", "sailing ship", "sailing boat", "ship", "boat", "yacht", "tall ship",
                                "clipper", "brigantine", "galleon", "sail"]),
    "web site": (["web site", "website", "web page", "webpage", "home page", "homepage", "internet site"],
                 ["screenshot", "browser", "screen", "page", "computer screen"]),
    "sliding door": (["sliding door", "sliding glass door", "patio door", "shoji"],
                     ["door", "doorway", "glass door", "window", "wardrobe"]),
    "marmoset": (["marmoset"], ["monkey", "tamarin", "primate", "lemur", "animal"]),
    "chest": (["chest", "treasure chest", "storage chest", "hope chest", "blanket chest", "toy box", "coffer"],
              ["box", "trunk", "crate", "suitcase", "cabinet", "casket", "footlocker"]),
    "spoonbill": (["spoonbill", "roseate spoonbill"], ["flamingo", "ibis", "heron", "stork", "crane", "wading bird",
                                                       "bird"]),
    "sunglasses": (["sunglasses", "sunglass", "dark glasses", "shades"], ["glasses", "spectacles", "eyeglasses",
                                                                          "goggles", "eyewear"]),
    "harvestman": (["harvestman", "daddy longlegs", "daddy long legs", "daddy long-legs", "opilionid",
                    "harvest spider"], ["spider", "arachnid", "insect", "bug"]),
    "black stork": (["black stork"], ["stork", "bird", "heron", "crane", "ibis", "cormorant"]),
    "dingo": (["dingo", "warrigal"], ["dog", "wild dog", "jackal", "coyote", "fox", "wolf", "canine", "dhole",
                                      "animal"]),
    "parking meter": (["parking meter", "pay and display"], ["meter", "vending machine", "machine", "pole"]),
    "dalmatian": (["dalmatian", "dalmation", "coach dog", "carriage dog"], ["dog", "puppy", "spotted dog", "pointer",
                                                                             "animal"]),
    "shoe shop": (["shoe shop", "shoe store", "shoeshop", "shoe boutique", "shoe display"],
                  ["shop", "store", "shoe", "boot", "sneaker", "boutique", "display", "market"]),
    "pomegranate": (["pomegranate"], ["fruit", "berry", "seed", "apple", "fig", "passion fruit"]),
    # round 17 (r17-random20): seed 50719's draw, written before any image of it (prairie chicken, Indian elephant and
    # zebra had lists). ImageNet's "jean" is blue jeans/denim, "washer" the washing machine, "hot pot" the dish,
    # "European gallinule" the purple swamphen, "spiny lobster" the rock lobster (the American lobster is another class)
    "jean": (["jean", "blue jean", "denim"], ["trousers", "pants", "clothing", "fabric"]),
    "shower curtain": (["shower curtain"], ["curtain", "drape", "shower", "bathroom"]),
    "basenji": (["basenji"], ["dog", "puppy", "terrier", "animal"]),
    "milk can": (["milk can", "milk churn", "churn"], ["can", "canister", "jug", "urn", "container"]),
    "tripod": (["tripod"], ["camera stand", "stand", "camera"]),
    "spiny lobster": (["spiny lobster", "rock lobster", "langouste", "crayfish", "crawfish"],
                      ["lobster", "crustacean", "shrimp", "prawn", "crab"]),
    "obelisk": (["obelisk"], ["monument", "pillar", "column", "tower", "monolith"]),
    "washer": (["washer", "washing machine", "automatic washer"], ["dryer", "laundry", "appliance"]),
    "bullfrog": (["bullfrog", "bull frog"], ["frog", "toad", "amphibian"]),
    "malamute": (["malamute", "malemute", "Alaskan malamute"], ["dog", "husky", "sled dog", "wolf", "animal"]),
    "candle": (["candle", "taper"], ["flame", "candlestick", "wax"]),
    "axolotl": (["axolotl", "mud puppy"], ["salamander", "newt", "amphibian", "lizard"]),
    "submarine": (["submarine", "U-boat"], ["boat", "ship", "vessel", "torpedo"]),
    "hot pot": (["hot pot", "hotpot"], ["stew", "soup", "casserole", "curry", "fondue", "broth"]),
    "barn": (["barn"], ["farmhouse", "farm", "shed", "stable", "house", "building"]),
    "vase": (["vase"], ["urn", "jar", "pot", "pottery", "amphora", "jug"]),
    "European gallinule": (["European gallinule", "gallinule", "purple swamphen", "swamphen"],
                           ["moorhen", "coot", "bird", "water bird", "waterbird"]),
    # round 18 (r18-random20): seed 48319's draw, written before any image of it (lorikeet, schooner, black stork and
    # sweatshirt had lists). ImageNet's "kite" (class 21) is the bird of prey: "kite" is accepted as the class, so a
    # guess meaning the toy would match; such guesses are reported by hand. "drum" is the membranophone (a guess of
    # "steel drum" matches it too), "maillot tank suit" the one-piece swimsuit (class 639; "maillot", 638, is a
    # leotard or swimsuit as well), "church" the building
    "kite": (["kite", "red kite", "black kite"], ["hawk", "bird of prey", "raptor", "eagle", "falcon", "buzzard",
                                                  "bird"]),
    "violin": (["violin", "fiddle"], ["viola", "cello", "string instrument", "instrument"]),
    "water snake": (["water snake"], ["snake", "serpent", "reptile"]),
    "kuvasz": (["kuvasz"], ["dog", "puppy", "sheepdog", "Great Pyrenees", "retriever", "animal"]),
    "triceratops": (["triceratops"], ["dinosaur", "reptile"]),
    "gibbon": (["gibbon"], ["ape", "monkey", "primate", "orangutan", "chimpanzee"]),
    "cicada": (["cicada", "cicala"], ["insect", "bug", "fly", "beetle", "locust", "grasshopper"]),
    "pelican": (["pelican"], ["bird", "water bird", "waterbird", "stork", "heron", "swan"]),
    "drum": (["drum", "snare drum", "bass drum", "tom-tom", "tomtom", "membranophone"],
             ["percussion", "instrument", "tambourine", "bongo"]),
    "church": (["church", "chapel", "cathedral"], ["building", "temple", "mosque", "tower", "steeple", "abbey"]),
    "abaya": (["abaya"], ["robe", "cloak", "gown", "burqa", "dress", "garment", "clothing", "veil", "hijab",
                          "niqab"]),
    "steel drum": (["steel drum", "steel pan", "steelpan", "pan drum"], ["drum", "percussion", "instrument"]),
    "maillot tank suit": (["maillot", "tank suit", "swimsuit", "swimming costume", "bathing suit", "one-piece"],
                          ["swimwear", "bikini", "leotard", "swimming", "clothing", "top"]),
    "armadillo": (["armadillo"], ["anteater", "pangolin", "animal", "mammal"]),
    "Persian cat": (["Persian cat", "Persian"], ["cat", "kitten"]),
    "Lakeland terrier": (["Lakeland terrier", "Lakeland"], ["terrier", "dog", "puppy", "Airedale", "Welsh terrier"]),
    # round 19 (r19-ceiling): the classes of foolbox 3.3.4's twenty ImageNet validation photos (the photo ceiling),
    # written before any viewer answered and before any image of them was made (strawberry, bottlecap, drum,
    # spoonbill and dalmatian had lists). ImageNet's "buckeye" is the nut (horse chestnut, conker), "thatch" the
    # thatched roof, "Loafer" the shoe, "cannon" the artillery piece. "mastiff" is strict for the bull mastiff as
    # "poodle" is for the miniature poodle (a "Tibetan mastiff" guess would match: such guesses are reported by hand);
    # a plain "eagle" is the basic level for the bald eagle, as "leopard" is for the snow leopard
    "bull mastiff": (["bull mastiff", "bullmastiff", "mastiff"], ["dog", "puppy", "bulldog", "boxer", "pug", "animal"]),
    "folding chair": (["folding chair", "fold-up chair", "foldable chair", "camp chair", "camping chair"],
                      ["chair", "seat", "stool", "furniture"]),
    "beaker": (["beaker"], ["glass", "cup", "jar", "flask", "measuring cup", "test tube", "glassware", "tumbler"]),
    "buckeye": (["buckeye", "horse chestnut", "conker"], ["chestnut", "nut", "acorn", "seed", "hazelnut", "walnut"]),
    "thatch": (["thatch", "thatched", "thatched roof"], ["roof", "hut", "cottage", "straw", "house", "cabin", "barn",
                                                        "building"]),
    "jeep": (["jeep", "land rover", "landrover", "willys"], ["suv", "off-road vehicle", "off road vehicle", "car",
                                                            "truck", "vehicle", "humvee", "pickup"]),
    "yurt": (["yurt", "ger"], ["tent", "hut", "teepee", "tipi", "cabin", "house", "dwelling"]),
    "Loafer": (["loafer", "penny loafer", "moccasin", "slip-on", "slip on shoe"],
               ["shoe", "footwear", "boot", "slipper", "sneaker", "oxford", "brogue"]),
    "prayer rug": (["prayer rug", "prayer mat", "prayer carpet", "sajadah"],
                   ["rug", "carpet", "mat", "tapestry", "kilim", "textile"]),
    "cannon": (["cannon", "artillery", "field gun"], ["gun", "weapon", "howitzer", "mortar", "wheel", "cart"]),
    "goose": (["goose", "geese", "gander"], ["bird", "duck", "swan", "waterfowl", "water bird", "waterbird"]),
    "bald eagle": (["bald eagle", "American eagle"], ["eagle", "hawk", "bird of prey", "raptor", "falcon", "osprey",
                                                     "kite", "bird"]),
    "leafhopper": (["leafhopper", "leaf hopper"], ["insect", "bug", "cicada", "planthopper", "treehopper",
                                                   "froghopper", "grasshopper", "aphid", "fly", "beetle"]),
    "dung beetle": (["dung beetle", "scarab", "scarab beetle", "dor beetle"], ["beetle", "bug", "insect"]),
    # round 19 (r19-detail): seed 74728's draw, written before any image of it (spotted salamander, espresso, lemon,
    # harvestman, maypole, bell pepper and armadillo had lists). Four dog breeds: the breed is the class, "dog" only
    # the basic level. "bobcat" is a lynx (Lynx rufus); "jinrikisha" is the pulled rickshaw (a "cycle rickshaw" or
    # "pedicab" is basic only); ImageNet has no separate hamburger, so "burger" names the cheeseburger
    "Maltese dog": (["Maltese dog", "Maltese", "Maltese terrier"], ["dog", "puppy", "lapdog", "toy dog"]),
    "paintbrush": (["paintbrush", "paint brush", "artist brush", "artist's brush"],
                   ["brush", "paint", "painting", "art supplies"]),
    "scoreboard": (["scoreboard", "score board"], ["display", "sign", "board", "billboard", "screen"]),
    "jinrikisha": (["jinrikisha", "rickshaw", "ricksha"], ["cart", "carriage", "cycle rickshaw", "pedicab", "buggy",
                                                            "wagon"]),
    "Sealyham terrier": (["Sealyham terrier", "Sealyham"], ["terrier", "dog", "puppy", "Westie",
                                                            "West Highland terrier"]),
    "Dandie Dinmont": (["Dandie Dinmont", "Dandie Dinmont terrier", "Dandie"], ["terrier", "dog", "puppy"]),
    "Rhodesian ridgeback": (["Rhodesian ridgeback", "ridgeback"], ["dog", "puppy", "hound"]),
    "necklace": (["necklace", "pendant", "choker", "pearl necklace", "string of pearls"],
                 ["jewelry", "jewellery", "chain", "bracelet", "beads", "bead"]),
    "lynx": (["lynx", "catamount", "bobcat"], ["cat", "wildcat", "wild cat", "big cat", "feline", "cougar", "puma"]),
    "honeycomb": (["honeycomb", "honey comb"], ["honey", "beehive", "hive", "bee", "wax", "comb"]),
    "cheeseburger": (["cheeseburger", "hamburger", "burger"], ["sandwich", "fast food", "bun", "food"]),
    "hermit crab": (["hermit crab"], ["crab", "crustacean", "shell", "seashell"]),
    "gazelle": (["gazelle"], ["antelope", "deer", "impala", "springbok", "animal"]),
    # round 20 (r20-lever): seed 1658's draw, written before any image of it (stole, umbrella, Loafer, black stork,
    # tiger cat and Rhodesian ridgeback had lists). ImageNet's "plane" is the carpenter's plane: a bare "plane" is
    # not accepted (an airliner guess would match it), only phrases that name the tool. "ox" is ImageNet's one class of
    # domestic cattle: "cow", "cattle", "bull" name it. "Madagascar cat" is the ring-tailed lemur ("lemur" alone is
    # the basic level: ImageNet has a second lemur, the indri). "American Staffordshire terrier" is also WordNet's
    # "American pit bull terrier"; the Staffordshire bull terrier is another class (basic only). "dock" is the
    # docking facility; "pier" is another class (basic only). "Band Aid" is the adhesive bandage
    "plane": (["carpenter's plane", "woodworking plane", "hand plane", "wood plane", "block plane", "jack plane",
               "smoothing plane", "bench plane", "plane woodworking", "plane tool", "wood planer"],
              ["woodworking tool", "hand tool", "tool", "planer", "chisel", "spokeshave"]),
    "breastplate": (["breastplate", "breast plate", "cuirass", "aegis", "egis", "chest plate", "chestplate"],
                    ["armor", "armour", "body armor", "body armour", "plate armor", "plate armour", "chest armor",
                     "chest armour", "shield"]),
    "orangutan": (["orangutan", "orang utan", "orangutang", "orang"], ["ape", "monkey", "primate", "gorilla",
                                                                         "chimpanzee"]),
    "running shoe": (["running shoe", "sneaker", "trainer", "jogging shoe", "athletic shoe", "sports shoe",
                      "tennis shoe", "gym shoe", "runner"], ["shoe", "footwear", "boot"]),
    "ox": (["ox", "oxen", "cow", "cattle", "bull", "steer", "bullock", "zebu", "brahman"],
           ["bovine", "buffalo", "water buffalo", "yak", "bison", "livestock", "animal"]),
    "Band Aid": (["Band Aid", "bandaid", "adhesive bandage", "sticking plaster", "adhesive plaster"],
                 ["bandage", "plaster", "first aid", "medical tape", "tape", "patch"]),
    "American Staffordshire terrier": (["American Staffordshire terrier", "American Staffordshire",
                                        "Staffordshire terrier", "Amstaff", "am staff", "pit bull", "pitbull",
                                        "American pit bull terrier"],
                                       ["dog", "puppy", "terrier", "bull terrier", "Staffordshire bull terrier",
                                        "Staffordshire bullterrier", "Staffy", "Staffie"]),
    "beaver": (["beaver"], ["rodent", "muskrat", "animal"]),
    "dhole": (["dhole", "Asian wild dog", "Asiatic wild dog", "Indian wild dog", "whistling dog"],
              ["wild dog", "dog", "fox", "jackal", "wolf", "canine", "coyote"]),
    "radio telescope": (["radio telescope", "radio reflector", "radio dish", "radio antenna"],
                        ["telescope", "satellite dish", "dish antenna", "antenna", "dish", "observatory",
                         "parabolic antenna"]),
    "dock": (["dock", "dockage", "docking facility", "dockyard", "wharf", "quay", "harbor", "harbour", "port",
              "container terminal", "container port"], ["pier", "jetty", "marina", "shipyard", "waterfront",
                                                        "boardwalk"]),
    "Madagascar cat": (["Madagascar cat", "ring-tailed lemur", "ringtailed lemur", "Lemur catta"],
                       ["lemur", "primate", "monkey"]),
    "oxcart": (["oxcart", "ox cart", "bullock cart", "ox wagon", "ox drawn cart", "oxen cart", "bull cart",
                "cart pulled by oxen", "cart drawn by oxen"], ["cart", "wagon", "carriage", "horse cart", "buggy"]),
    "Old English sheepdog": (["Old English sheepdog", "Old English sheep dog", "bobtail"],
                             ["dog", "puppy", "sheepdog", "sheep dog", "herding dog"]),
}

#: Round 9's fresh random set: the seed of ``--random 20 --random-seed``, chosen after the recipe was frozen.
RANDOM_SEED_R9 = 61206
#: Round 10's: chosen after the round-10 recipe (``maco_centre_view160``) was frozen in commit 65cf350, from the
#: clock's nanoseconds at that moment (276037199, modulo 100000).
RANDOM_SEED_R10 = 37199
#: Round 11's: chosen after the candidate ``canvas_ensemble`` was frozen in commit 3e86c91, from the clock's
#: nanoseconds at that moment (modulo 100000).
RANDOM_SEED_R11 = 77716
#: Round 12's: chosen after ``canvas_nobackdrop`` was frozen as the default ``OBJECT`` in commit 3f8f9d1, from the
#: clock's nanoseconds right after that commit (1796603111464102392, modulo 100000).
RANDOM_SEED_R12 = 2392
#: Round 12's second: chosen after ``canvas_retry`` was frozen in commit 1c6ac0d, from the clock's nanoseconds right
#: after that commit (1796605281466871131, modulo 100000). Snow leopard was in the development set (seed 1206) too.
RANDOM_SEED_R12B = 71131
#: Round 13's: the default (``canvas_retry``, round 12's ``OBJECT``) kept unchanged and frozen at commit e32ba5c,
#: then the clock's nanoseconds (1796613127871934666, modulo 100000). Whiskey jug was in round 13's development
#: set (seed 13013) too.
RANDOM_SEED_R13 = 34666
#: Round 14's: the candidate ``canvas_retry_whole04`` (the default plus a zoomed-out copy of the view; the default
#: unchanged) frozen at commit 041e1e1, then the clock's nanoseconds (1796624408884011919, modulo 100000). Rock
#: beauty was in round 14's development draw (seed 1407) too, never rendered; cabbage butterfly in round 13's set.
RANDOM_SEED_R14 = 11919
#: Round 15's: the candidate ``prior_stats_ens`` (the opt-in preset ``"prior"``: a generator prior and a Lite1
#: ensemble; the default unchanged) frozen at commit 6c48d75, then the clock's nanoseconds (1796637630649844342,
#: modulo 100000). Weimaraner was in round 9's random set, dugong in round 14's.
RANDOM_SEED_R15 = 44342
#: Round 16's: the candidate ``canvas_retry_ensemble`` (the default plus the Lite1 ensemble; the default unchanged)
#: frozen at commit e85c967, then the clock's nanoseconds (1796646729563712009, modulo 100000). Refrigerator was in
#: round 13's random set; none of the 20 was in round 16's development draw (seed 16016).
RANDOM_SEED_R16 = 12009
#: Round 16's confirmatory draw (r16-confirm): the rule for ``canvas_retry_ensemble`` against ``canvas_retry`` (both
#: unchanged since round 16) committed first (commit 132a677), then the clock's nanoseconds (1796649228698418962,
#: modulo 100000). Shetland sheepdog had an accept list from an earlier round.
RANDOM_SEED_R16C = 18962
#: Round 17's (r17-random20): the candidate ``canvas_retry_ensemble3_members`` frozen at commit 8de4c2a and the paired
#: rule against the default committed in BLIND.md (commit c2a3932), then the clock's nanoseconds (1796658041907850719,
#: modulo 100000). Prairie chicken, Indian elephant and zebra had accept lists from earlier rounds; none of the 20 is in
#: round 17's development draw (seed 17017).
RANDOM_SEED_R17 = 50719
#: Round 18's (r18-random20): the candidate ``canvas_retry_ensemble3_shrink`` frozen at commit 095b5ab and the paired
#: rule against the default committed in BLIND.md (commit 80306bb), then the clock's nanoseconds (1796669708312648319,
#: modulo 100000). Lorikeet, schooner, black stork and sweatshirt had accept lists from earlier rounds; none of the 20
#: is in round 18's development draw (seed 18018).
RANDOM_SEED_R18 = 48319
#: Round 19's (r19-detail): the candidate ``canvas_retry_ensemble3_detail`` frozen at commit 5cc184f and the paired
#: rule against the default committed in BLIND.md (commit 1d28a7f), then the clock's nanoseconds (1796681840873274728,
#: modulo 100000). Spotted salamander, espresso, lemon, harvestman, maypole, bell pepper and armadillo had accept lists
#: from earlier rounds; none of the 20 is in round 19's development draw (seed 19019) or is kuvasz or Persian cat.
RANDOM_SEED_R19 = 74728
#: Round 20's (r20-lever): the candidate ``canvas_retry_ensemble3_shrink_detail`` frozen at commit c73b7be and the
#: paired rule against the default committed in BLIND.md (commit 096d94b), then the clock's nanoseconds
#: (1796691582207401658, modulo 100000). Stole, umbrella, Loafer, black stork, tiger cat and Rhodesian ridgeback had
#: accept lists from earlier rounds; Rhodesian ridgeback was in round 19's draw and in this round's development set (its
#: images seen by me, by no viewer of this round), beaver in round 19's development draw.
RANDOM_SEED_R20 = 1658

#: Round 8's fresh set: 20 ImageNet classes not in the development set, chosen (not drawn) as ones a person can
#: name from a photo (animals, vehicles, objects of distinctive shape), before any image of them was made.
FRESH20 = ["giant panda", "zebra", "koala", "toucan", "ladybug", "starfish", "snail", "hummingbird", "ostrich",
           "tiger", "strawberry", "banana", "pineapple", "broccoli", "school bus", "fire engine", "airliner",
           "umbrella", "teddy", "soccer ball"]

#: The viewer's question (round 11: it says that any everyday thing may be shown, so a viewer does not fall
#: back on a class list it knows, e.g. Imagenette's ten, as one round-10 viewer did).
QUESTION = ("Each picture was made by a computer and is meant to show one thing. It could be any everyday object, "
            "animal, plant, place, vehicle or food: there is no list of possible answers. For every picture give "
            "five guesses of what it shows, most likely first, one line per picture: "
            "'imgNN: guess1; guess2; guess3; guess4; guess5'. Name concrete things (an object, an animal, a scene, "
            "a food), not colours or 'abstract'; if unsure, still give your five best guesses. Look at each "
            "picture on its own.")


def _norm(text: str) -> str:
    words = re.findall(r"[a-z]+", text.lower())
    out = []
    for w in words:
        if len(w) > 4 and w.endswith("es") and not w.endswith("ses"):
            w = w[:-2] if w[:-2] + "e" != w[:-1] else w[:-1]
        elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return " " + " ".join(out) + " "


def accept_lists(cls: str) -> tuple[list[str], list[str]]:
    """``(strict, basic)`` phrases for a class; other classes: the class name and each of its words of 4+ letters
    (for the basic count)."""
    if cls in ACCEPT:
        return ACCEPT[cls]
    words = [w for w in re.findall(r"[a-z]+", cls.lower()) if len(w) >= 4]
    return [cls], [cls, *words]


def matches(guess: str, phrases: list[str]) -> bool:
    g = _norm(guess)
    return any(_norm(p) in g for p in phrases)


def first_hit(guesses: list[str], phrases: list[str]) -> int | None:
    """1-based position of the first guess naming one of ``phrases`` (``None``: none does)."""
    for i, g in enumerate(guesses[:5], start=1):
        if matches(g, phrases):
            return i
    return None


# -- rendering ------------------------------------------------------------------------------------------------
def degraded(image: torch.Tensor, kind: str) -> torch.Tensor:
    """A copy of ``image`` as a viewer with poor eyes might see it: ``grey``, ``blur`` (sigma 2 px), ``small``
    (down to 56 px and back) or ``tiny`` (32 px and back); :func:`vizlab.optimize.degraded_copy`."""
    from vizlab.optimize import degraded_copy

    return degraded_copy(image, kind)


def proxies(judge, image: torch.Tensor, target: int) -> dict:
    """Every automatic proxy of one image: Lite2's rank on it and on three degraded copies, spectrum distance."""
    with torch.no_grad():
        out = {"lite2_rank": int(judge.rank(image, target)[0])}
        for kind in ("grey", "blur", "small"):
            out[f"lite2_{kind}_rank"] = int(judge.rank(degraded(image, kind), target)[0])
    from vizlab.optimize import spectrum_distance

    out["spectrum_distance"] = spectrum_distance(image)
    return out


def recipe_settings(recipe: str):
    """The settings of a recipe of :data:`RECIPES`. A ``"cs231n"`` base means the pixel preset as it was until
    round 16 (:data:`vizlab.optimize.PIXELS_ROBUST`), so that every recipe renders as it did when judged; round 16's
    ``cs231n_r16_ens_retry`` is the preset ``CS231N`` since then (a test checks that the two are equal)."""
    from dataclasses import replace

    from vizlab.optimize import PIXELS_ROBUST, preset

    base, changes = RECIPES[recipe]
    return replace(PIXELS_ROBUST, **changes) if base == "cs231n" else preset(base, **changes)


def render_set(args) -> int:
    import vizlab
    from vizlab.images import save_image
    from vizlab.optimize import class_visualization

    out, key_path = Path(args.out), Path(args.key)
    if key_path.resolve().is_relative_to(out.resolve()):
        raise SystemExit("the key must not be inside the viewer's folder")
    out.mkdir(parents=True, exist_ok=True)
    if any(out.glob("img*.png")) and not args.resume:
        raise SystemExit(f"{out} already has images: use a fresh folder for a fresh viewer")
    key_path.parent.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = vizlab.load_model()
    for p in model.parameters():
        p.requires_grad_(False)
    judge = None if args.no_proxies else vizlab.load_judge()
    classes = args.classes or (FRESH20 if args.fresh20 else ISSUE_CLASSES)
    if args.random:
        drawn = random.Random(args.random_seed).sample(range(len(model.categories)), args.random)
        classes = [model.categories[i] for i in drawn]
    jobs = [(r, c) for r in args.recipes for c in classes]
    order = list(range(len(jobs)))
    random.Random(args.seed).shuffle(order)
    part, parts = (int(v) for v in args.part.split("/"))
    entries = []
    slots = list(enumerate(order))
    for slot, j in reversed(slots) if args.reverse else slots:
        if slot % parts != part:
            continue  # another process (--part) renders this one
        if args.resume and (out / f"img{slot:02d}.png").exists():
            continue  # rendered by another process
        recipe, cls = jobs[j]
        target = model.class_index(cls)
        start, cpu = time.perf_counter(), time.process_time()
        r = class_visualization(model, target, recipe_settings(recipe), seed=args.image_seed, progress=False)
        seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        name = f"img{slot:02d}.png"
        save_image(r.image[0], out / name)
        entry = dict(image=name, recipe=recipe, cls=model.categories[target], target=target,
                     lite0_p=r.info["target_probability"], seconds=seconds, cpu_seconds=cpu_s,
                     threads=torch.get_num_threads(), image_seed=args.image_seed,
                     **({"retry": r.info["retry"]} if "retry" in r.info else {}),
                     **({"detail": r.info["detail"]} if "detail" in r.info else {}),
                     **({} if args.no_proxies else proxies(judge, r.image, target)))
        entries.append(entry)
        key_path.write_text(json.dumps(dict(folder=str(out), entries=entries), indent=1))
        print(f"{slot + 1}/{len(jobs)} done ({seconds:.1f} s)", flush=True)  # nothing about the content
    return 0


def proxy_pngs(args) -> int:
    """Add the proxies (and Lite0's p at 224 px) to a key rendered with ``--no-proxies``, from its saved PNGs."""
    import vizlab
    from vizlab.images import load_image

    if args.threads:
        torch.set_num_threads(args.threads)
    key = json.loads(Path(args.key).read_text())
    model, judge = vizlab.load_model(), vizlab.load_judge()
    for e in key["entries"]:
        if "lite2_rank" in e:
            continue
        image = torch.from_numpy(load_image(Path(key["folder"]) / e["image"])).permute(2, 0, 1).unsqueeze(0)
        e.update(proxies(judge, image, e["target"]), proxies_from="png")
    Path(args.key).write_text(json.dumps(key, indent=1))
    return 0


def merge(args) -> int:
    keys = [json.loads(Path(k).read_text()) for k in args.keys]
    if len({k["folder"] for k in keys}) != 1:
        raise SystemExit("the keys belong to different folders")
    entries = sorted((e for k in keys for e in k["entries"]), key=lambda e: e["image"])
    seen = {}
    for e in entries:  # two processes met on one slot (--reverse): the same call, the same image; keep one
        if e["image"] in seen and seen[e["image"]]["cls"] != e["cls"]:
            raise SystemExit(f"two keys give {e['image']} different classes")
        seen.setdefault(e["image"], e)
    entries = list(seen.values())
    Path(args.out).write_text(json.dumps(dict(folder=keys[0]["folder"], entries=entries), indent=1))
    return 0


def reshuffle(args) -> int:
    """The images of a rendered set, copied under new names in a fresh shuffle into another viewer's folder (a
    second fresh viewer on the same pictures); its key lists each image's ``renamed_from`` and names the first set's
    folder as ``images_of``."""
    import shutil

    key = json.loads(Path(args.key).read_text())
    src, out, key_path = Path(key["folder"]), Path(args.out), Path(args.new_key)
    if key_path.resolve().is_relative_to(out.resolve()):
        raise SystemExit("the key must not be inside the viewer's folder")
    out.mkdir(parents=True, exist_ok=True)
    if any(out.glob("img*.png")):
        raise SystemExit(f"{out} already has images: use a fresh folder for a fresh viewer")
    old = sorted(key["entries"], key=lambda e: e["image"])
    order = list(range(len(old)))
    random.Random(args.seed).shuffle(order)
    entries = []
    for slot, j in enumerate(order):
        name = f"img{slot:02d}.png"
        shutil.copyfile(src / old[j]["image"], out / name)
        entries.append(dict(old[j], image=name, renamed_from=old[j]["image"]))
    key_path.parent.mkdir(parents=True, exist_ok=True)
    # images_of: the set whose PNGs these are (proxy_study.table() reads the verdicts against them)
    key_path.write_text(json.dumps(dict(folder=str(out), images_of=Path(args.key).parent.as_posix(),
                                        shuffle_seed=args.seed,
                                        note=f"{args.key}'s images renamed in a fresh shuffle (seed {args.seed})",
                                        entries=entries), indent=1))
    return 0


def prompt(args) -> int:
    paths = sorted(Path(args.out).resolve().glob("img*.png"))
    print(QUESTION + "\n\n" + "\n".join(str(p) for p in paths))
    return 0


# -- scoring --------------------------------------------------------------------------------------------------
def read_guesses(path: Path) -> dict[str, list[str]]:
    """``{"img07.png": [five guesses]}`` from lines ``img07: a; b; c; d; e`` (or a JSON object); anything after a
    ``#`` on a line (round 17's viewers add what they saw) is not a guess."""
    text = path.read_text()
    if text.lstrip().startswith("{"):
        raw = json.loads(text)
    else:
        raw = {}
        for line in text.splitlines():
            m = re.match(r"\s*\**\s*(img\d+)(?:\.png)?\**\s*[:\-]\s*(.+)", line)
            if m:   # a viewer's "# what I saw" after the guesses is a note, not a guess
                body = m.group(2).split("#", 1)[0]
                raw[m.group(1)] = [g.strip(" .*") for g in re.split(r";|\|", body) if g.strip(" .*")]
    out = {}
    for k, v in raw.items():
        name = k if k.endswith(".png") else f"{k}.png"
        out[name] = list(v) if isinstance(v, list) else [str(v)]
    return out


def score(args) -> int:
    key = json.loads(Path(args.key).read_text())
    guesses = read_guesses(Path(args.guesses))
    rows = []
    for e in key["entries"]:
        g = guesses.get(e["image"], [])
        strict, basic = accept_lists(e["cls"])
        rows.append(dict(e, guesses=g, strict_hit=first_hit(g, strict), basic_hit=first_hit(g, strict + basic)))
    missing = [r["image"] for r in rows if not r["guesses"]]
    if missing:
        print(f"no answer for {len(missing)} images: {', '.join(missing)}")
    recipes = sorted({r["recipe"] for r in rows}, key=lambda n: list(RECIPES).index(n) if n in RECIPES else 99)
    print("| recipe | class | guesses (first 3) | strict hit | basic hit | Lite2 rank |")
    print("|---|---|---|---:|---:|---:|")
    for r in sorted(rows, key=lambda r: (recipes.index(r["recipe"]), r["cls"])):
        print(f"| {r['recipe']} | {r['cls']} | {'; '.join(r['guesses'][:3])} | {r['strict_hit'] or '-'} | "
              f"{r['basic_hit'] or '-'} | {r['lite2_rank']} |")
    print()
    for name in recipes:
        sub = [r for r in rows if r["recipe"] == name]
        t1 = sum(r["strict_hit"] == 1 for r in sub)
        t5 = sum(r["strict_hit"] is not None for r in sub)
        b1 = sum(r["basic_hit"] == 1 for r in sub)
        b5 = sum(r["basic_hit"] is not None for r in sub)
        print(f"**{name}**: blind top-1 {t1}/{len(sub)}, top-5 {t5}/{len(sub)} (basic level: top-1 {b1}, "
              f"top-5 {b5}); Lite2 top-5 {sum(r['lite2_rank'] <= 5 for r in sub)}/{len(sub)}; median "
              f"{statistics.median(r['seconds'] for r in sub):.1f} s per image")
    print("\nunmatched guesses (check the matcher by eye):")
    for r in rows:
        if r["strict_hit"] is None and r["guesses"]:
            print(f"  {r['image']} ({r['cls']}): {'; '.join(r['guesses'])}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def proxy(args) -> int:
    rows = [r for path in args.scored for r in json.loads(Path(path).read_text()) if r.get("guesses")]
    if not rows:
        raise SystemExit("no scored images")
    k = 1 if args.top1 else 5
    truth = [(r["basic_hit" if args.basic else "strict_hit"] or 99) <= k for r in rows]
    print(f"{len(rows)} images, blind top-{k} {'(basic level) ' if args.basic else ''}hits: {sum(truth)}")
    print("| proxy | rule | agrees with the viewer | pass & named | pass & not named | fail & named |")
    print("|---|---|---:|---:|---:|---:|")
    # what a proxy must beat: always saying "named" (or always "not named"), whichever agrees more often
    _agree_row("(always pass)" if 2 * sum(truth) >= len(truth) else "(always fail)", "base rate",
               [2 * sum(truth) >= len(truth)] * len(truth), truth)
    for name in ("lite2_rank", "lite2_grey_rank", "lite2_blur_rank", "lite2_small_rank"):
        for k in (1, 5, 20):
            passed = [r[name] <= k for r in rows]
            _agree_row(name, f"rank <= {k}", passed, truth)
    dists = sorted(r["spectrum_distance"] for r in rows)
    for q in (0.25, 0.5, 0.75):
        cut = dists[int(q * (len(dists) - 1))]
        _agree_row("spectrum_distance", f"<= {cut:.3f} (q{int(q * 100)})",
                   [r["spectrum_distance"] <= cut for r in rows], truth)
    return 0


def agreement(passed, truth) -> tuple[int, float, int, int, int]:
    """How a proxy's verdicts ``passed`` agree with the viewer's ``truth`` (lists of bools): ``(agree, balanced
    accuracy, pass & named, pass & not named, fail & named)``; balanced accuracy is the mean of the pass rate on
    named and the fail rate on unnamed images (0.5 for a rule that passes everything or nothing)."""
    n, named = len(truth), sum(truth)
    agree = sum(p == t for p, t in zip(passed, truth))
    tp = sum(p and t for p, t in zip(passed, truth))
    fp = sum(p and not t for p, t in zip(passed, truth))
    tn = n - named - fp
    return agree, 0.5 * (tp / max(named, 1) + tn / max(n - named, 1)), tp, fp, named - tp


def _agree_row(name, rule, passed, truth):
    n = len(truth)
    agree, _, ps, pu, fs = agreement(passed, truth)
    print(f"| {name} | {rule} | {agree}/{n} ({agree / n:.0%}) | {ps} | {pu} | {fs} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="make a shuffled, untitled set and its key")
    r.add_argument("--recipes", nargs="+", default=["fourier"], choices=list(RECIPES))
    r.add_argument("--classes", nargs="*", default=None, help="class names (default: the issue's ten)")
    r.add_argument("--fresh20", action="store_true", help="round 8's fresh set of 20 classes (FRESH20)")
    r.add_argument("--random", type=int, default=0, help="instead: this many classes drawn from all 1000")
    r.add_argument("--random-seed", type=int, default=0)
    r.add_argument("--out", required=True, help="the viewer's folder (images only)")
    r.add_argument("--key", required=True, help="the key file (JSON), outside the viewer's folder")
    r.add_argument("--seed", type=int, default=0, help="seed of the shuffle")
    r.add_argument("--image-seed", type=int, default=0)
    r.add_argument("--threads", type=int, default=None)
    r.add_argument("--part", default="0/1", help="K/N: render only the images whose slot is K modulo N (N "
                   "processes in parallel, each with its own --key; join the keys with `merge`)")
    r.add_argument("--no-proxies", action="store_true", help="leave Lite2's proxies out of the key (faster on a "
                   "busy machine; `proxy-pngs` adds them afterwards from the saved PNGs)")
    r.add_argument("--resume", action="store_true", help="the folder may hold images already: skip those slots "
                   "(another process's, or an interrupted run's)")
    r.add_argument("--reverse", action="store_true", help="go through the slots from the last (a second process "
                   "on the same --part meets the first in the middle)")
    r.set_defaults(fn=render_set)
    g = sub.add_parser("proxy-pngs", help="add the proxies to a key rendered with --no-proxies, from its PNGs")
    g.add_argument("--key", required=True)
    g.add_argument("--threads", type=int, default=1)
    g.set_defaults(fn=proxy_pngs)
    m = sub.add_parser("merge", help="join the keys of a set rendered in parts")
    m.add_argument("--keys", nargs="+", required=True)
    m.add_argument("--out", required=True)
    m.set_defaults(fn=merge)
    h = sub.add_parser("reshuffle", help="the same images renamed in a fresh shuffle, for a second fresh viewer")
    h.add_argument("--key", required=True, help="the rendered set's key")
    h.add_argument("--out", required=True, help="the second viewer's folder (images only)")
    h.add_argument("--new-key", required=True, help="the new key (JSON), outside that folder")
    h.add_argument("--seed", type=int, required=True, help="seed of the fresh shuffle")
    h.set_defaults(fn=reshuffle)
    p = sub.add_parser("prompt", help="print the viewer's question and the image paths")
    p.add_argument("--out", required=True)
    p.set_defaults(fn=prompt)
    s = sub.add_parser("score", help="score a viewer's five guesses per image")
    s.add_argument("--key", required=True)
    s.add_argument("--guesses", required=True)
    s.add_argument("--json", default=None, help="write the scored rows here (for proxy)")
    s.set_defaults(fn=score)
    x = sub.add_parser("proxy", help="agreement of the automatic proxies with scored blind verdicts")
    x.add_argument("--scored", nargs="+", required=True)
    x.add_argument("--basic", action="store_true", help="use the basic-level hits as the truth")
    x.add_argument("--top1", action="store_true", help="the truth is a top-1 hit (default: top-5)")
    x.set_defaults(fn=proxy)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
