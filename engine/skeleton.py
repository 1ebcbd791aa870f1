"""The OpenPose BODY_25 skeleton: joint order, limbs, body parts and the left/right mirror map."""

from __future__ import annotations

JOINTS: tuple[str, ...] = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
    "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)  # fmt: skip
NUM_JOINTS = 25
J = {name: i for i, name in enumerate(JOINTS)}


# Index of each joint's mirror image (left <-> right); centre joints map to themselves.
def _mirror_name(name: str) -> str:
    if name[0] in "LR" and name[1].isupper():
        return ("L" if name[0] == "R" else "R") + name[1:]
    return name


MIRROR: tuple[int, ...] = tuple(J[_mirror_name(n)] for n in JOINTS)

# Limbs compared by direction: (name, from joint, to joint, body part, side).
LIMBS: tuple[tuple[str, int, int, str, str], ...] = (
    ("right upper arm", J["RShoulder"], J["RElbow"], "arms", "right"),
    ("right forearm", J["RElbow"], J["RWrist"], "arms", "right"),
    ("left upper arm", J["LShoulder"], J["LElbow"], "arms", "left"),
    ("left forearm", J["LElbow"], J["LWrist"], "arms", "left"),
    ("right thigh", J["RHip"], J["RKnee"], "legs", "right"),
    ("right shin", J["RKnee"], J["RAnkle"], "legs", "right"),
    ("left thigh", J["LHip"], J["LKnee"], "legs", "left"),
    ("left shin", J["LKnee"], J["LAnkle"], "legs", "left"),
    ("spine", J["MidHip"], J["Neck"], "torso", "centre"),
    ("shoulders", J["RShoulder"], J["LShoulder"], "torso", "centre"),
    ("hips", J["RHip"], J["LHip"], "torso", "centre"),
    ("neck", J["Neck"], J["Nose"], "head", "centre"),
    ("eyes", J["REye"], J["LEye"], "head", "centre"),
)
# Direction of each limb when standing at rest, facing the camera (x right, y down in the image); lateral
# limbs (shoulders, hips, eyes) are horizontal at rest, either way round.
REST_DIRECTION: tuple[tuple[float, float], ...] = (
    (0.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.0, 1.0),  # arms hang down
    (0.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.0, 1.0),  # legs straight down
    (0.0, -1.0), (1.0, 0.0), (1.0, 0.0),  # spine up; shoulder and hip lines level
    (0.0, -1.0), (1.0, 0.0),  # head up; eyes level
)  # fmt: skip
LATERAL: tuple[bool, ...] = tuple(limb[0] in ("shoulders", "hips", "eyes") for limb in LIMBS)
PARTS: tuple[str, ...] = ("arms", "legs", "torso", "head")
LIMB_PART: tuple[int, ...] = tuple(PARTS.index(limb[3]) for limb in LIMBS)


def _mirror_limb(index: int) -> int:
    _, a, b, _, _ = LIMBS[index]
    ma, mb = MIRROR[a], MIRROR[b]
    for k, (_, c, d, _, _) in enumerate(LIMBS):
        if {c, d} == {ma, mb}:
            return k
    raise ValueError(f"limb {LIMBS[index][0]} has no mirror image")


# Index of each limb's mirror image, and whether its direction reverses (e.g. shoulders R->L become L->R).
LIMB_MIRROR: tuple[int, ...] = tuple(_mirror_limb(k) for k in range(len(LIMBS)))
LIMB_MIRROR_REVERSED: tuple[bool, ...] = tuple(
    LIMBS[LIMB_MIRROR[k]][1] != MIRROR[LIMBS[k][1]] for k in range(len(LIMBS))
)

# Bones drawn for a skeleton (OpenPose's BODY_25 pairs).
BONES: tuple[tuple[int, int], ...] = (
    (1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
    (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21),
    (11, 22), (22, 23), (11, 24),
)  # fmt: skip
