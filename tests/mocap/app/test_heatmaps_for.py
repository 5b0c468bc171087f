"""The stages after detection carry heatmaps only for the volumetric method (each of sync,
association and triangulation copies them)."""
import numpy as np

from mocap.app.detections import heatmaps_for
from mocap.types import Detections2D


def _det(heatmaps=True):
    C, F, P, J = 2, 3, 1, 17
    hm = np.ones((C, F, P, J, 4, 4), np.float16) if heatmaps else None
    aff = np.broadcast_to(np.eye(2, 3), (C, F, P, 2, 3)).copy() if heatmaps else None
    return Detections2D(xy=np.zeros((C, F, P, J, 2)), conf=np.ones((C, F, P, J), np.float32),
                        format="coco17", camera_names=("a", "b"), fps=30.0, heatmaps=hm,
                        heatmap_affine=aff)


def test_heatmaps_are_dropped_unless_the_method_uses_them():
    det = _det()
    kept = heatmaps_for(det, "volumetric")
    assert kept is det
    dropped = heatmaps_for(det, "algebraic")
    assert dropped.heatmaps is None and dropped.heatmap_affine is None
    assert dropped.xy is det.xy and dropped.conf is det.conf
    assert heatmaps_for(_det(False), "algebraic").heatmaps is None
