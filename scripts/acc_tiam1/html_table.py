"""Self-contained HTML tables with search, sorting and paging, for the Snakemake report.

The report shows HTML inline but offers TSV files only as downloads; these pages let a PI
look a gene up in the report itself. They load nothing from the network.
"""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:12px;color:#222}
h1{font-size:16px;margin:0 0 4px} p.note{font-size:12px;color:#555;margin:2px 0 8px}
input{padding:4px 8px;width:260px;border:1px solid #bbb;border-radius:4px}
table{border-collapse:collapse;font-size:12px;margin-top:8px}
th,td{padding:3px 8px;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}
th{background:#f3f4f6;cursor:pointer;user-select:none;position:sticky;top:0}
th.text,td.text{text-align:left} tr:hover td{background:#fafae6}
.pager{margin-top:6px;font-size:12px} .pager button{margin:0 4px}
"""

_SCRIPT = """
(function(){
const spec=JSON.parse(document.getElementById('data').textContent);
const cols=spec.columns, rows=spec.rows, numeric=spec.numeric, per=50;
let view=rows.slice(), page=0, sortCol=-1, asc=true;
const q=document.getElementById('q'), body=document.getElementById('body'),
      info=document.getElementById('info');
function fmt(v,j){if(v===null)return '';if(!numeric[j])return String(v);
  if(Number.isInteger(v))return String(v);const a=Math.abs(v);
  return (a!==0&&(a<1e-3||a>=1e5))?v.toExponential(3):v.toPrecision(4);}
function draw(){const n=view.length, pages=Math.max(1,Math.ceil(n/per));
  page=Math.min(page,pages-1);const part=view.slice(page*per,page*per+per);
  body.innerHTML=part.map(r=>'<tr>'+r.map((v,j)=>'<td class="'+(numeric[j]?'':'text')+'">'
    +String(fmt(v,j)).replace(/&/g,'&amp;').replace(/</g,'&lt;')+'</td>').join('')+'</tr>').join('');
  info.textContent=n+' rows, page '+(page+1)+' of '+pages;}
function filter(){const t=q.value.trim().toLowerCase();
  view=t?rows.filter(r=>r.some((v,j)=>!numeric[j]&&v!==null&&String(v).toLowerCase().includes(t))):rows.slice();
  if(sortCol>=0)sortBy(sortCol,true);page=0;draw();}
function sortBy(j,keep){if(!keep){asc=(sortCol===j)?!asc:true;sortCol=j;}
  const s=asc?1:-1;view.sort((a,b)=>{const x=a[j],y=b[j];if(x===y)return 0;
    if(x===null)return 1;if(y===null)return -1;return (x<y?-1:1)*s;});
  if(!keep){page=0;draw();}}
document.querySelectorAll('th').forEach((th,j)=>th.addEventListener('click',()=>sortBy(j,false)));
q.addEventListener('input',filter);
document.getElementById('prev').addEventListener('click',()=>{page=Math.max(0,page-1);draw();});
document.getElementById('next').addEventListener('click',()=>{page=page+1;draw();});
draw();})();
"""


def _cell(value):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, float | np.floating):
        # Four significant digits: what a reader compares, and half the report's size.
        return float(f"{value:.4g}")
    return value


def interactive_table(
    table: pd.DataFrame,
    title: str,
    note: str = "",
    max_rows: int = 5000,
    keep: pd.Series | None = None,
) -> str:
    """Render a table as a standalone HTML page with search, sort and paging.

    Parameters
    ----------
    table
        The rows to show, in the order they are first displayed.
    title
        Page heading.
    note
        One line under the heading (what the table is, where the full file is).
    max_rows
        Rows beyond this are left out (the note says so), which keeps the report small.
    keep
        Boolean mask of rows shown even beyond ``max_rows`` (the genes a reader will
        search for, such as Tiam1), in table order after the first ``max_rows``.

    Returns
    -------
    The HTML document.
    """
    shown = table.head(max_rows)
    if len(table) > max_rows:
        extra = table.iloc[max_rows:]
        if keep is not None:
            extra = extra[keep.iloc[max_rows:].to_numpy(dtype=bool)]
            shown = pd.concat([shown, extra])
        also = f" plus {len(extra)} highlighted gene(s)" if keep is not None and len(extra) else ""
        note = (f"{note} " if note else "") + (
            f"Showing the first {max_rows}{also} of {len(table)} rows; the TSV has them all."
        )
    numeric = [
        bool(pd.api.types.is_numeric_dtype(shown[c])) and not pd.api.types.is_bool_dtype(shown[c])
        for c in shown.columns
    ]
    rows = [[_cell(v) for v in row] for row in shown.itertuples(index=False, name=None)]
    payload = json.dumps(
        {"columns": list(map(str, shown.columns)), "rows": rows, "numeric": numeric},
        allow_nan=False,
        separators=(",", ":"),
    )
    # A JSON payload cannot close the script element it sits in.
    payload = payload.replace("</", "<\\/")
    head = "".join(
        f'<th class="{"" if n else "text"}">{html.escape(str(c))}</th>'
        for c, n in zip(shown.columns, numeric, strict=True)
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='note'>{html.escape(note)}</p>"
        "<input id='q' type='search' placeholder='Search gene, term, ...'>"
        f"<table><thead><tr>{head}</tr></thead><tbody id='body'></tbody></table>"
        "<div class='pager'><button id='prev'>&lt; previous</button><span id='info'></span>"
        "<button id='next'>next &gt;</button></div>"
        f"<script type='application/json' id='data'>{payload}</script>"
        f"<script>{_SCRIPT}</script></body></html>"
    )


def message_page(title: str, message: str) -> str:
    """A standalone HTML page holding only a message, styled as the table pages.

    Parameters
    ----------
    title
        Page heading.
    message
        The text, e.g. why a table does not exist.

    Returns
    -------
    str
        The HTML document.
    """
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='note'>{html.escape(message)}</p></body></html>"
    )
