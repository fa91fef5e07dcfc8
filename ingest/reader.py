"""Reading workbooks and CSV files into plain grids of cells.

The parser works on `Sheet` objects (a name and rows of `Cell`s with the value
and Excel number format), whatever the file format was. Anything that cannot be
read raises `Unreadable` with a reason the county can act on.
"""

from __future__ import annotations

import csv
import errno
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 10_000
MAX_COLS = 200
MAX_UNPACKED_BYTES = 200 * 1024 * 1024  # a zip bomb is refused before anything is unpacked
SUFFIXES = (".xlsx", ".xls", ".csv")
# what zipfile raises on a damaged or unsupported archive (a county's file; OSError stays the disk's)
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, RuntimeError)


class Unreadable(Exception):
    """The file cannot be read as a report; the message says why (in Chinese and English)."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en


@dataclass(frozen=True)
class Cell:
    value: object  # str | int | float | bool | None; Excel errors as str starting with '#'
    number_format: str = "General"


@dataclass
class Sheet:
    name: str
    rows: list[list[Cell]]
    hidden: bool = False


def read_file(path: Path, display_name: str | None = None) -> list[Sheet]:
    name = display_name or path.name
    suffix = Path(name).suffix.lower()
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise Unreadable(f"文件大小 {size / 1048576:.1f} MB 超过 20 MB 上限",
                         f"the file is {size / 1048576:.1f} MB, over the 20 MB limit")
    head = path.read_bytes()[:8]
    if suffix == ".xlsx":
        if not head.startswith(b"PK"):
            if head.startswith(b"\xd0\xcf\x11\xe0"):
                raise Unreadable("文件已加密或实为旧版 .xls 格式", "the file is encrypted or is really an old .xls file")
            raise Unreadable("不是有效的 .xlsx 文件", "not a valid .xlsx file")
        return _read_xlsx(path)
    if suffix == ".xls":
        if not head.startswith(b"\xd0\xcf\x11\xe0"):
            raise Unreadable("不是有效的 .xls 文件", "not a valid .xls file")
        return _read_xls(path)
    if suffix == ".csv":
        return [_read_csv(path, name)]
    raise Unreadable(f"不接受的文件类型“{suffix or '无扩展名'}”，只接受 .xlsx、.xls、.csv",
                     f"file type “{suffix or 'none'}” is not accepted; only .xlsx, .xls and .csv")


def read_head(path: Path, display_name: str | None = None, rows: int = 10) -> list[Sheet]:
    """The first `rows` rows of every sheet (the title block: 表号, 填报单位, 报告期), read cheaply;
    raises `Unreadable` on what `read_file` would refuse as unreadable (never unpacks a zip bomb).
    For grouping files before they are parsed; the parser still reads the whole file."""
    name = display_name or path.name
    suffix = Path(name).suffix.lower()
    if path.stat().st_size > MAX_BYTES:
        raise Unreadable("文件过大", "the file is too large")
    if suffix == ".xlsx":
        try:
            with zipfile.ZipFile(path) as z:
                unpacked = sum(i.file_size for i in z.infolist())
        except (*ZIP_ERRORS, OSError) as exc:
            raise Unreadable("文件已损坏或不是 Excel 工作簿", "the file is damaged or not an Excel workbook") from exc
        if unpacked > MAX_UNPACKED_BYTES:
            raise Unreadable("文件解压后过大", "the workbook unpacks to more than 200 MB")
        return _head_xlsx(path, rows)
    if suffix == ".xls":
        return [Sheet(s.name, s.rows[:rows], s.hidden) for s in _read_xls(path)]
    if suffix == ".csv":
        with open(path, "rb") as f:
            data = f.read(64 * 1024)
        text = _decode(data[: data.rfind(b"\n") + 1] or data)
        sample = "\n".join(text.split("\n", 5)[:5])
        delimiter = "\t" if sample.count("\t") > sample.count(",") else ","  # as _read_csv decides
        recs = list(csv.reader(io.StringIO(text), delimiter=delimiter))[:rows]
        return [Sheet(Path(name).stem, _trim([[Cell(v if v.strip() else None) for v in r[:MAX_COLS]] for r in recs]))]
    raise Unreadable("不接受的文件类型", "file type not accepted")


def _head_xlsx(path: Path, rows: int) -> list[Sheet]:
    return _read_xlsx_calamine(path, nrows=rows)


def _check_rows(name: str, n: int) -> None:
    if n > MAX_ROWS:
        raise Unreadable(f"工作表“{name}”超过 {MAX_ROWS} 行上限", f"sheet “{name}” has more than {MAX_ROWS} rows")


def _read_xlsx(path: Path) -> list[Sheet]:
    """calamine (fast) for values; openpyxl for the workbooks calamine cannot read right:
    percentage formats (cells store fractions, read with their number format) and
    Excel error values (calamine reads them as empty)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "xl/vbaProject.bin" in names:
                raise Unreadable("含宏的工作簿不被接受，请另存为普通 .xlsx",
                                 "macro workbooks are not accepted; save as plain .xlsx")
            if sum(i.file_size for i in z.infolist()) > MAX_UNPACKED_BYTES:
                raise Unreadable("文件解压后过大", "the workbook unpacks to more than 200 MB")
            if "xl/workbook.xml" not in names:
                raise Unreadable("文件已损坏或不是 Excel 工作簿", "the file is damaged or not an Excel workbook")
            percent = _uses_percent_format(z.read("xl/styles.xml")) if "xl/styles.xml" in names else False
            # calamine reads Excel error cells as empty: they must be errors, not "not reported"
            errors = any(b't="e"' in z.read(n) for n in names
                         if n.startswith("xl/worksheets/") and n.endswith(".xml"))
    except ZIP_ERRORS as exc:  # a damaged archive, a corrupt deflate stream, an unsupported method or version
        raise Unreadable("文件已损坏或不是 Excel 工作簿", "the file is damaged or not an Excel workbook") from exc
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # the disk's error, not the file's
            raise
        # a damaged header points zipfile at an offset it cannot seek to
        raise Unreadable("文件已损坏或不是 Excel 工作簿", "the file is damaged or not an Excel workbook") from exc
    return _read_xlsx_openpyxl(path) if percent or errors else _read_xlsx_calamine(path)


_BUILTIN_PERCENT_FORMATS = {9, 10}


def _uses_percent_format(styles_xml: bytes) -> bool:
    """True if any cell style of the workbook is a percentage format. Parsed with defusedxml, as openpyxl
    parses every part once defusedxml is installed: a document type with entities (entity expansion, an
    external entity: never written by Excel or WPS) is refused, not expanded."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml import ElementTree as ET

    from ingest.values import is_percent_format

    try:
        root = ET.fromstring(styles_xml)
    except DefusedXmlException as exc:
        raise Unreadable("工作簿的 XML 含实体声明（Excel/WPS 不会生成），不予读取，请重新另存为 .xlsx",
                         "the workbook's XML declares entities (Excel and WPS never write them): not read; "
                         "save it again as .xlsx") from exc
    except ParseError:
        return True  # let openpyxl decide what it can read
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    percent_ids = set(_BUILTIN_PERCENT_FORMATS)
    try:
        for fmt in root.findall("m:numFmts/m:numFmt", ns):
            if is_percent_format(fmt.get("formatCode", "")):
                percent_ids.add(int(fmt.get("numFmtId", "-1")))
        return any(int(xf.get("numFmtId", "0")) in percent_ids for xf in root.findall("m:cellXfs/m:xf", ns))
    except ValueError:  # a style id that is not a number
        return True


def _read_xlsx_calamine(path: Path, nrows: int | None = None) -> list[Sheet]:
    """Every worksheet (or its first `nrows` rows: the title block, with no size check)."""
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
        metadata = {m.name: m for m in wb.sheets_metadata}
        sheets = []
        for name in wb.sheet_names:
            meta = metadata.get(name)
            if meta is not None and "WorkSheet" not in str(meta.typ):
                continue  # chart sheets and the like
            ws = wb.get_sheet_by_name(name)
            if nrows is None and ws.height > MAX_ROWS + 1:
                _check_rows(name, ws.height)
            rows = [[Cell(None if v == "" else v) for v in row[:MAX_COLS]]
                    for row in (ws.to_python(skip_empty_area=False) if nrows is None
                                else ws.to_python(skip_empty_area=False, nrows=nrows))]
            if nrows is None:
                _check_rows(name, len(rows))
            hidden = meta is not None and "Visible" not in str(meta.visible).split(".")[-1]
            sheets.append(Sheet(name, _trim(rows), hidden=hidden))
        return sheets
    except Unreadable:
        raise
    except Exception as exc:  # calamine raises its own error types on corrupt files
        raise Unreadable("文件已损坏或不是 Excel 工作簿",
                         f"the file is damaged or not an Excel workbook ({type(exc).__name__})") from exc


def _read_xlsx_openpyxl(path: Path) -> list[Sheet]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types on corrupt files
        raise Unreadable("文件已损坏或不是 Excel 工作簿",
                         f"the file is damaged or not an Excel workbook ({type(exc).__name__})") from exc
    sheets = []
    try:
        for ws in wb.worksheets:
            rows: list[list[Cell]] = []
            for i, row in enumerate(ws.iter_rows(min_row=1, min_col=1)):
                if i >= MAX_ROWS + 1:
                    break
                cells = [Cell(_xlsx_value(c), getattr(c, "number_format", "General") or "General")
                         for c in row[:MAX_COLS]]
                rows.append(cells)
            _check_rows(ws.title, len(rows))
            sheets.append(Sheet(ws.title, _trim(rows), hidden=ws.sheet_state != "visible"))
    except Unreadable:
        raise
    except Exception as exc:  # a sheet's XML is read lazily: damage shows here, not at load
        raise Unreadable("文件已损坏或不是 Excel 工作簿",
                         f"the file is damaged or not an Excel workbook ({type(exc).__name__})") from exc
    finally:
        wb.close()
    return sheets


def _xlsx_value(c) -> object:
    value = getattr(c, "value", None)
    if getattr(c, "data_type", None) == "e" and value is not None:
        return str(value)
    return value


def _read_xls(path: Path) -> list[Sheet]:
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True,
                                  logfile=io.StringIO())  # its warnings about damage: the finding says it
    except Exception as exc:
        raise Unreadable("文件已损坏、已加密或不是 Excel 97-2003 工作簿",
                         f"the file is damaged, encrypted or not an Excel 97-2003 workbook ({type(exc).__name__})") from exc
    try:
        return _xls_sheets(book)
    except Unreadable:
        raise
    except Exception as exc:  # sheets are read on demand: a damaged one raises here (xlrd's own types, struct)
        raise Unreadable("文件已损坏、已加密或不是 Excel 97-2003 工作簿",
                         f"the file is damaged, encrypted or not an Excel 97-2003 workbook ({type(exc).__name__})") from exc
    finally:
        book.release_resources()


def _xls_sheets(book) -> list[Sheet]:
    sheets = []
    for idx in range(book.nsheets):
        sh = book.sheet_by_index(idx)
        _check_rows(sh.name, sh.nrows)
        rows = []
        for r in range(sh.nrows):
            cells = []
            for c in range(min(sh.ncols, MAX_COLS)):
                cell = sh.cell(r, c)
                fmt = "General"
                try:
                    xf = book.xf_list[cell.xf_index]
                    fmt = book.format_map[xf.format_key].format_str
                except (IndexError, KeyError, TypeError):
                    pass
                cells.append(Cell(_xls_value(cell, book.datemode), fmt))
            rows.append(cells)
        sheets.append(Sheet(sh.name, _trim(rows), hidden=bool(getattr(sh, "visibility", 0))))
    return sheets


def _xls_value(cell, datemode: int) -> object:
    import xlrd

    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if cell.ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(cell.value, "#ERROR")
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate.xldate_as_datetime(cell.value, datemode)
        except Exception:
            return cell.value
    return cell.value


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Unreadable(f"文件以 UTF-8 标记开头，但第 {exc.start + 4} 个字节起不是 UTF-8 编码，请重新以 UTF-8 保存 CSV",
                             f"the file starts with a UTF-8 mark but byte {exc.start + 4} on is not UTF-8; "
                             "save the CSV as UTF-8 again") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # a superset of GBK and GB2312
    except UnicodeDecodeError as exc:
        raise Unreadable("无法识别文件编码，请以 UTF-8 或 GBK 编码保存 CSV",
                         "unknown text encoding; save the CSV as UTF-8 or GBK") from exc


def _read_csv(path: Path, name: str) -> Sheet:
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise Unreadable("不是文本格式的 CSV 文件", "not a text CSV file")
    text = _decode(data)
    first = text.split("\n", 5)
    sample = "\n".join(first[:5])
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    rows = []
    try:
        for i, rec in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter)):
            if i >= MAX_ROWS + 1:
                break
            rows.append([Cell(v if v.strip() else None) for v in rec[:MAX_COLS]])
    except csv.Error as exc:  # a NUL character, a field over the csv module's limit (128 KB)
        raise Unreadable(f"CSV 文件第 {len(rows) + 1} 行无法读取（含空字符或单元格过长），请检查后重新导出",
                         f"line {len(rows) + 1} of the CSV cannot be read ({exc}); export the CSV again") from exc
    _check_rows(name, len(rows))
    return Sheet(Path(name).stem, _trim(rows))


def _trim(rows: list[list[Cell]]) -> list[list[Cell]]:
    """Drop trailing empty cells of each row and trailing empty rows."""
    out = []
    for row in rows:
        end = len(row)
        while end and row[end - 1].value in (None, ""):
            end -= 1
        out.append(row[:end])
    while out and not out[-1]:
        out.pop()
    return out
