"""A fake arXiv PDF host: serves `/pdf/<id>v<version>` as real (tiny) PDF files.

    with PdfServer() as pdfs:
        pdfs.add("2601.00001v1", ["page one text", "page two text"])
        settings = settings.model_copy(update={"arxiv_pdf_url": pdfs.url + "/pdf"})

`redirect(path, location)` answers 302 (to test that redirects off arXiv are not followed);
unknown paths are 404. Every request is recorded (`requests`: paths).
"""

from __future__ import annotations

from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

from ._loopback import LoopbackServer


def make_pdf(pages: Sequence[str]) -> bytes:
    """A valid PDF with one Helvetica text line per 90 characters, one page per string."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        lines = [text[j : j + 90] for j in range(0, len(text), 90)] or [""]
        ops = ["BT", "/F1 10 Tf", "12 TL", "40 800 Td"]
        for line in lines:
            safe = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({safe}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1", "replace")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_ids[i] + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


class PdfServer(LoopbackServer):
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.requests: list[str] = []
        self._listen(self._handler())

    def add(self, name: str, pages: Sequence[str]) -> None:
        self.files[f"/pdf/{name}"] = make_pdf(pages)

    def redirect(self, path: str, location: str) -> None:
        self.redirects[path] = location

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                if self.path in fake.redirects:
                    self.send_response(302)
                    self.send_header("Location", fake.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = fake.files.get(self.path)
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Type", "application/pdf")
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

        return Handler
