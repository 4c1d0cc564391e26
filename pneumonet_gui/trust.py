"""What the viewer may claim about a result: honest heat maps.

A scan the out-of-distribution guard flags is not a chest X-ray this model knows: it has
no probability or decision to show (see :class:`~pneumonet_core.results.ScanResult`) and
no heat map is shown. Grad-CAM maps are shown by default
for PNEUMONIA decisions only, where they point at what drove the finding; a toggle shows
them for NORMAL decisions too. Plain Python, shared by the result panel, the presenter
and the help.
"""

from __future__ import annotations

#: The heat map's legend: what the colours mean, in one line.
LEGEND = ("Brightest colours: the regions that pushed the model most towards its decision \u00b7 clear: little "
          "influence")

#: What Grad-CAM can and cannot show, in two sentences (help, README, tooltips).
GRADCAM_EXPLAINED = (
    "Grad-CAM colours the regions of the film whose features most increased the model's score for its "
    "decision, on a coarse 7 \u00d7 7 grid stretched over the image. It cannot outline a lesion, prove that "
    "the model used the right findings for the right reason, or show anything the model missed."
)


def heatmap_policy(result, show_for_normal: bool) -> tuple[bool, str]:
    """(may the heat map be shown, the line that says why not) for a result."""
    if result is None or not getattr(result, "classified", False):
        return False, ""
    if result.withheld:
        return False, "No heat map: the result is withheld for this scan."
    if result.label != "PNEUMONIA" and not show_for_normal:
        return False, ("Heat map hidden for \u201cNo pneumonia found\u201d: it would only show what argued against "
                       "pneumonia. Tick \u201cAlso for \u2018No pneumonia found\u2019\u201d to see it.")
    return True, LEGEND
