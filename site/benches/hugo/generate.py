#!/usr/bin/env python3
"""Writes a Hugo site equivalent to the registry part of chengguo's public site, for the
site build benchmark (scripts/bench.d/20-site.sh): one Markdown page per registered
achievement with the same public fields as site/benches/build.rs generates, the listing of
everything plus listings by kind and by year (taxonomies) paged by 50 like the site's, a
home page with the newest ten, and the sitemap. The layouts beside this file do the same
work per page as chengguo's templates: the page frame with navigation and footer, a table
of fields, a table of 50 achievements per listing page with a pager.

    generate.py COUNT OUT_DIR
"""

import datetime
import os
import shutil
import sys

SUMMARY = (
    "本成果面向中山市制造业企业的实际需求，研究了关键工艺参数的在线检测与自适应控制方法，"
    "建立了覆盖设计、制造和运维全过程的数据模型，研制了成套装置并在多家企业推广应用。"
    "经第三方评价，主要技术指标达到国内先进水平，取得了良好的经济效益和社会效益。"
)
KINDS = [("applied", "应用技术成果", "Y"), ("basic", "基础理论成果", "J"), ("soft", "软科学研究成果", "R")]
START = datetime.datetime(2016, 1, 4, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def record(i):
    """The fields of achievement `i`, as site/benches/build.rs makes them."""
    code, label, flag = KINDS[i % 3]
    at = START + datetime.timedelta(minutes=47 * i)
    unit = f"中山市第{i % 997}高新技术企业有限公司"
    authority = 442 + i // 10_000
    return {
        "title": f"面向智能制造的关键技术研究与应用（第{i}号）",
        "number": f"{authority}{at.year}{flag}{i % 10_000:04d}",
        "kind": code,
        "kind_label": label,
        "year": at.year,
        "date": at.isoformat(),
        "units": [unit, "中山职业技术学院"],
        "completers": [
            (f"完成人{(i + k) % 911}", "中山职业技术学院" if k == 3 else unit) for k in range(4)
        ],
        "keywords": [f"关键词{i % 101}", "智能制造", "在线检测"],
    }


def write_page(root, i):
    r = record(i)
    front = [
        "+++",
        f"title = {toml_str(r['title'])}",
        f"date = {r['date']}",
        f"slug = {toml_str(r['number'])}",
        f"number = {toml_str(r['number'])}",
        f"kind_label = {toml_str(r['kind_label'])}",
        f"kinds = [{toml_str(r['kind'])}]",
        f"years = [{toml_str(str(r['year']))}]",
        "units = [" + ", ".join(toml_str(u) for u in r["units"]) + "]",
        "completers = [" + ", ".join(toml_str(f"{n}（{w}）") for n, w in r["completers"]) + "]",
        "keywords = [" + ", ".join(toml_str(k) for k in r["keywords"]) + "]",
        'level = "国内先进"',
        'evaluation = "第三方评价：广东省某科技评价中心，2025-09-18"',
        "+++",
        "",
        SUMMARY,
        "",
    ]
    with open(os.path.join(root, f"{i:07d}.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(front))


def main():
    count, out = int(sys.argv[1]), sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "content", "registry"))
    shutil.copytree(os.path.join(here, "layouts"), os.path.join(out, "layouts"))
    shutil.copy(os.path.join(here, "hugo.toml"), os.path.join(out, "hugo.toml"))
    with open(os.path.join(out, "content", "registry", "_index.md"), "w", encoding="utf-8") as f:
        f.write('+++\ntitle = "成果库"\n+++\n')
    root = os.path.join(out, "content", "registry")
    for i in range(count):
        write_page(root, i)


if __name__ == "__main__":
    main()
