"""Real photos bundled with scikit-image, preprocessed the ImageNet way (resize 256, crop 224, normalise)."""

from __future__ import annotations

import numpy as np

# Photos that scikit-image ships inside the wheel (others need a download, which cannot happen here).
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "retina", "hubble_deep_field", "camera", "immunohistochemistry")
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(img: np.ndarray, size: int = 224) -> np.ndarray:
    """uint8 HxW or HxWxC photo -> float32 CHW: resize the shorter side to 256/224*size (bilinear with
    antialiasing, as PIL does it), centre-crop size x size, ImageNet-normalise."""
    from PIL import Image

    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    pil = Image.fromarray(np.ascontiguousarray(img[..., :3]).astype(np.uint8))
    short = round(size * 256 / 224)
    w, h = pil.size
    scale = short / min(w, h)
    pil = pil.resize((max(short, round(w * scale)), max(short, round(h * scale))), Image.BILINEAR)
    left = (pil.size[0] - size) // 2
    top = (pil.size[1] - size) // 2
    pil = pil.crop((left, top, left + size, top + size))
    x = (np.asarray(pil, dtype=np.float32) / 255.0 - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)


def raw_photos() -> list[np.ndarray]:
    import skimage.data

    return [getattr(skimage.data, name)() for name in PHOTOS]


def imagenet_photos(size: int = 224) -> list[np.ndarray]:
    """The bundled photos, preprocessed."""
    return [preprocess(img, size) for img in raw_photos()]


def jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    """A photo as a client would upload it."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    pil = Image.fromarray(img if img.ndim == 2 else np.ascontiguousarray(img[..., :3]))
    pil.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def photos_note() -> str:
    return (
        "real photos bundled with scikit-image (" + ", ".join(PHOTOS) + "), resized 256 (PIL bilinear) / centre crop "
        "224, ImageNet-normalised; servers receive them as JPEG (quality 90) and decode them per request"
    )
