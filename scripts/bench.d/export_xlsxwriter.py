"""The anchor of the export benchmark: Python's XlsxWriter writing the same table.

Reads the rows that `EXPORT_DUMP` of `functions/api/benches/export_batch.rs` wrote (JSON lines:
the header, then one array per row), all before the clock starts, then writes them as the
batch export does: one sheet in constant_memory mode with the same column widths, the bold
header with a fill and borders, frozen header row, text cells (quote-prefixed where a value
looks like a formula), dates as dates (yyyy-mm-dd), A4 landscape with the header repeated, the
autofilter, and a second sheet of notes. Prints `RESULT rows=N secs=S peak_kib=K bytes=B`
(peak resident memory of the whole process, from getrusage).

Usage: python export_xlsxwriter.py ROWS.jsonl OUT.xlsx
"""

import datetime
import json
import os
import resource
import sys
import time

import xlsxwriter

WIDTHS = [16, 36, 14, 28, 18, 28, 36, 40, 30, 16, 22, 22, 22, 10, 14, 24, 12, 60, 16, 13, 13, 13, 13]
DATE_COLUMNS = {16, 18, 19, 20, 21, 22}
MAX_CELL_TEXT = 32767


def looks_like_formula(s):
    return s[:1] in ("=", "+", "-", "@", "\t", "\r")


def cell_text(s):
    if len(s.encode("utf-16-le")) // 2 <= MAX_CELL_TEXT:
        return s
    return s[: MAX_CELL_TEXT - 1] + "…"


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        header = json.loads(f.readline())
        rows = [json.loads(line) for line in f]
    dates = {}

    def as_date(s):
        if s is None:
            return None
        d = dates.get(s)
        if d is None:
            try:
                d = datetime.datetime.strptime(s, "%Y-%m-%d")
            except ValueError:
                d = False
            dates[s] = d
        return d

    started = time.perf_counter()
    wb = xlsxwriter.Workbook(out, {"constant_memory": True})
    head = wb.add_format(
        {"bold": True, "align": "center", "valign": "vcenter", "bg_color": "#DDEBF7", "border": 1}
    )
    text = wb.add_format({"valign": "vcenter"})
    quoted = wb.add_format({"valign": "vcenter", "quote_prefix": True})
    date = wb.add_format({"num_format": "yyyy-mm-dd", "align": "left"})
    ws = wb.add_worksheet("公示信息")
    for i, (name, width) in enumerate(zip(header, WIDTHS)):
        ws.set_column(i, i, width)
        ws.write_string(0, i, name, head)
    ws.set_row(0, 22)
    ws.freeze_panes(1, 0)
    ws.set_landscape()
    ws.set_paper(9)
    ws.repeat_rows(0, 0)
    r = 0
    for row in rows:
        r += 1
        for c, v in enumerate(row):
            if c in DATE_COLUMNS:
                d = as_date(v)
                if d:
                    ws.write_datetime(r, c, d, date)
                elif v is None:
                    ws.write_blank(r, c, None, date)
                else:
                    ws.write_string(r, c, cell_text(v), quoted if looks_like_formula(v) else text)
            else:
                v = cell_text(v)
                ws.write_string(r, c, v, quoted if looks_like_formula(v) else text)
    if r:
        ws.autofilter(0, 0, r, len(header) - 1)
    notes = wb.add_worksheet("说明")
    notes.set_column(0, 0, 100)
    notes.write_string(0, 0, "科技成果登记信息公示", wb.add_format({"bold": True, "font_size": 14}))
    wb.close()
    secs = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"RESULT rows={len(rows)} secs={secs:.4f} peak_kib={peak} bytes={os.path.getsize(out)}")


if __name__ == "__main__":
    main()
