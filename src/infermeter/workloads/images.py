"""Real photos bundled with scikit-image, preprocessed the ImageNet way (resize 256, crop 224, normalise)."""

from __future__ import annotations

import numpy as np

# Photos that scikit-image ships inside the wheel (others need a download, which cannot happen here).
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "retina", "hubble_deep_field", "camera", "immunohistochemistry")
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def imagenet_photos(size: int = 224) -> list[np.ndarray]:
    """The bundled photos as float32 CHW tensors, resized (shorter side 256/224*size), centre-cropped."""
    import skimage.data
    from skimage.transform import resize

    out = []
    for name in PHOTOS:
        img = getattr(skimage.data, name)()
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        img = img[..., :3].astype(np.float32) / 255.0
        short = round(size * 256 / 224)
        h, w = img.shape[:2]
        scale = short / min(h, w)
        img = resize(img, (max(short, round(h * scale)), max(short, round(w * scale))), anti_aliasing=True)
        top = (img.shape[0] - size) // 2
        left = (img.shape[1] - size) // 2
        img = img[top : top + size, left : left + size]
        img = (img - MEAN) / STD
        out.append(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))
    return out


def photos_note() -> str:
    return "real photos bundled with scikit-image (" + ", ".join(PHOTOS) + "), resized 256 / centre crop 224, ImageNet-normalised"
