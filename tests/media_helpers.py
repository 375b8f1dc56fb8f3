"""Images for the tests of images on posts: made in memory with Pillow, EXIF (with a GPS
location) included where the format carries it."""

import io
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

GPS_IFD = 0x8825


def image_bytes(fmt="JPEG", size=(800, 600), *, mode="RGB", exif=True, frames=1) -> bytes:
    """An image of ``size`` in ``fmt``; JPEGs carry a camera make and a GPS location."""
    colour = {"RGB": (200, 30, 30), "RGBA": (0, 120, 200, 128), "CMYK": (0, 200, 200, 0)}
    image = Image.new(mode, size, colour.get(mode))
    out = io.BytesIO()
    kwargs = {}
    if exif and fmt == "JPEG":
        data = Image.Exif()
        data[0x010F] = "SpyCam"  # Make
        data[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 0.0)}
        kwargs["exif"] = data.tobytes()
    if frames > 1:
        others = [Image.new(mode, size, (i * 40, 0, 0)) for i in range(1, frames)]
        kwargs.update(save_all=True, append_images=others, duration=100, loop=0)
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def png_bomb(width=20000, height=20000) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * (width * 3)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * 4))
        + chunk(b"IEND", b"")
    )


def upload(name="photo.jpg", data=None, content_type="image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes() if data is None else data, content_type)


def photo_bytes(size=(1600, 1000), *, seed=0) -> bytes:
    """A JPEG that looks like something (a gradient with a sun), with a GPS location."""
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    red, green, blue = image.split()
    image = Image.merge(
        "RGB", (red.point(lambda v: 60 + v // 3), green, blue.point(lambda v: 255 - v // 2))
    )
    sun = Image.new("RGB", (width // 5, width // 5), (255, 200 - seed * 40, 40))
    mask = Image.new("L", sun.size, 0)
    from PIL import ImageDraw

    ImageDraw.Draw(mask).ellipse((0, 0, *sun.size), fill=255)
    image.paste(sun, (width // 2 + seed * 120, height // 6), mask)
    out = io.BytesIO()
    exif = Image.Exif()
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 0.0)}
    image.save(out, format="JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()
