#!/usr/bin/python3
"""Renders the text images the engine's PP-OCR tests feed the detector and
the direction classifier (ocr_page.png 320x320, ocr_line.png 192x48):
a real input makes the detector fire, so its output scale is O(1).
Run with Debian's python3 (PIL): /usr/bin/python3 make_text_png.py"""
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
font = ImageFont.truetype(FONT, 22)

page = Image.new("RGB", (320, 320), (245, 243, 238))
d = ImageDraw.Draw(page)
lines = ["edgeprune compresses", "ONNX models for", "edge devices: pure Go,", "no C runtime, ARM.", "Accuracy 98.88%"]
for i, s in enumerate(lines):
    d.text((14, 20 + i * 58), s, fill=(20, 20, 30), font=font)
page.save("ocr_page.png", optimize=True)

line = Image.new("RGB", (192, 48), (250, 250, 250))
d = ImageDraw.Draw(line)
d.text((6, 10), "Pruned 95% ok", fill=(10, 10, 10), font=ImageFont.truetype(FONT, 24))
line.save("ocr_line.png", optimize=True)
