"""The parts of a form sheet, one module each, run in order by `ingest.parse`:

- `forms`: which sheet is which form (LZ-0, LZ-1, LZ-2), and the forms the county must send;
- `title`: the title block above the header (填报单位 → the county, 报告期 → the period);
- `columns`: the header row(s) → the indicator columns and their units;
- `towns`: which town a data row is (code, name, membership, duplicates, members missing);
- `rows`: the data rows → values in canonical units, with the cell checks;
- `totals`: the 合计 row against the sum of the towns;
- `footer`: 填报人, 联系电话 and 报出日期 under the table.

`report` holds what they build (the `Report` and its `Value`s) and `cells` the A1 helpers.
"""
