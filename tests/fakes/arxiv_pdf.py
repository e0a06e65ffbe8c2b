"""A fake arXiv PDF host: serves `/pdf/<id>v<version>` as real (tiny) PDF files.

    with PdfServer() as pdfs:
        pdfs.add("2601.00001v1", ["page one text", "page two text"])
        settings = settings.model_copy(update={"arxiv_pdf_url": pdfs.url + "/pdf"})

`redirect(path, location)` answers 302 (to test that redirects off arXiv are not followed);
`trickle(name, pages, every_s)` serves a PDF one byte every `every_s` seconds (a slow host);
unknown paths are 404. Every request is recorded (`requests`; `paths()` for their paths).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._server import FakeServer, Reply, Request


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


class PdfServer(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.trickled: dict[str, float] = {}

    def add(self, name: str, pages: Sequence[str]) -> None:
        self.files[f"/pdf/{name}"] = make_pdf(pages)

    def trickle(self, name: str, pages: Sequence[str], every_s: float) -> None:
        self.add(name, pages)
        self.trickled[f"/pdf/{name}"] = every_s

    def redirect(self, path: str, location: str) -> None:
        self.redirects[path] = location

    def respond(self, request: Request) -> Reply:
        if request.path in self.redirects:
            return Reply(status=302, headers={"Location": self.redirects[request.path]})
        data = self.files.get(request.path)
        if data is None:
            return Reply(status=404, content_type="application/pdf")
        trickle_s = self.trickled.get(request.path, 0.0)
        return Reply(body=data, content_type="application/pdf", trickle_s=trickle_s)
