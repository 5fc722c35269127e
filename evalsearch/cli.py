"""Command-line interface: each command parses options, calls the library, renders the result.

Nothing imports this module. Library errors (``EvalSearchError``) become a Japanese message on
stderr and exit code 1; usage errors are click's (exit code 2).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from evalsearch.clitext import JapaneseCommand, JapaneseGroup
from evalsearch.errors import EvalSearchError
from evalsearch.handle import concepts
from evalsearch.records import ITEM_LABELS

if TYPE_CHECKING:
    from evalsearch.handle import Index
    from evalsearch.records import SheetRecord

app = typer.Typer(
    cls=JapaneseGroup,
    help="事務事業評価シートの検索・比較エンジン。",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """事務事業評価シートの検索・比較エンジン。"""


stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Turn library errors into a message and exit code 1 instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EvalSearchError as error:
            stderr.print(f"エラー: {error}", markup=False, highlight=False)
            raise typer.Exit(code=1) from None

    return wrapper  # type: ignore[return-value]


class TableJsonCsv(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class TableJson(StrEnum):
    table = "table"
    json = "json"


IndexDirOption = Annotated[
    Path | None,
    typer.Option(
        "--index", help="索引ディレクトリ（既定: 環境変数 EVALSEARCH_INDEX、なければ ./index）"
    ),
]


def _open(index: Path | None) -> Index:
    """The one handle a command uses (a missing, outdated or damaged index fails here)."""
    from evalsearch.handle import open_index

    return open_index(index)


def _fiscal_year(value: str | None) -> int | None:
    from evalsearch.records import parse_fiscal_year

    if value is None:
        return None
    try:
        return parse_fiscal_year(value)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--year") from None


YEAR_HELP = "（2023・令和5・R5 のどれでも）"


BomOption = Annotated[
    bool,
    typer.Option(
        "--bom",
        help="--format csv の先頭に BOM を付ける（日本語版 Excel でそのまま開くとき）",
    ),
]


KeepGoingOption = typer.Option(
    "--keep-going", help="読めないファイルがあっても、読めたファイルで続ける（読めないものは一覧）"
)


class ParseFormat(StrEnum):
    json = "json"
    jsonl = "jsonl"
    table = "table"


@app.command(cls=JapaneseCommand)
@reports_errors
def parse(
    files: Annotated[
        list[Path], typer.Argument(help="シートのテキストダンプ（ファイルまたはディレクトリ）")
    ],
    output_format: Annotated[
        ParseFormat,
        typer.Option("--format", help="出力形式: json（配列）/ jsonl（1行1件）/ table（一覧表）"),
    ] = ParseFormat.json,
    strict: Annotated[
        bool, typer.Option("--strict", help="警告もエラーとして扱い、終了コード1で止める")
    ] = False,
    keep_going: Annotated[bool, KeepGoingOption] = False,
) -> None:
    """テキストダンプを読み取り、構造化したレコードを出力する（文字コードは自動で判定）。"""
    from evalsearch.parse import parse_files

    records: list[SheetRecord] = []
    failed: list[EvalSearchError] = []
    for outcome in parse_files(files, strict=strict, keep_going=True):
        if outcome.error is not None:
            failed.append(outcome.error)
            continue
        records.extend(outcome.records)
        if output_format is ParseFormat.table:
            stderr.print(
                f"読み込み: {outcome.path}（{outcome.encoding_label}、{len(outcome.records)}シート）",
                markup=False,
                highlight=False,
            )
    if failed and not keep_going:
        _report_failures(failed, keep_going)  # no partial output: fix the files, or --keep-going
    if output_format is ParseFormat.table:
        from evalsearch.display import records_table

        stdout.print(records_table(records))
        for record in records:
            for warning in record.warnings:
                stderr.print(f"警告: {record.id}: {warning}", markup=False, highlight=False)
    elif output_format is ParseFormat.jsonl:
        for record in records:
            typer.echo(json.dumps(record.to_dict(), ensure_ascii=False))
    else:
        typer.echo(
            json.dumps([record.to_dict() for record in records], ensure_ascii=False, indent=2)
        )
    _report_failures(failed, keep_going)


def _report_failures(failed: Sequence[EvalSearchError], keep_going: bool) -> None:
    """Every bad file by name; exit 1 unless --keep-going."""
    for error in failed:
        stderr.print(
            f"{'警告' if keep_going else 'エラー'}: {error}", markup=False, highlight=False
        )
    if failed and not keep_going:
        stderr.print(
            f"{len(failed)}個のファイルを読めませんでした（読めたファイルだけで続けるには --keep-going）。",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(code=1)


# --- index / search / show -----------------------------------------------------------------


@app.command("index", cls=JapaneseCommand)
@reports_errors
def index_command(
    paths: Annotated[
        list[Path], typer.Argument(help="シートのテキストダンプ（ファイルまたはディレクトリ）")
    ],
    index: IndexDirOption = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="既存の索引を捨てて、PATH だけから作り直す")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="読み取りの警告もエラーとして扱い、索引を変えずに止める"),
    ] = False,
    form: Annotated[
        str | None,
        typer.Option(
            "--form",
            help="すべてのファイルをこの様式で読む（例: ofunato。`evalsearch forms` で一覧）",
        ),
    ] = None,
    keep_going: Annotated[bool, KeepGoingOption] = False,
) -> None:
    """シートを読み取って索引に追加・置換する（変更のないファイルは飛ばす）。"""
    from evalsearch.build import build_index

    if stderr.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        ) as bar:
            task = bar.add_task("索引を作成中（ファイル）", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = build_index(
                paths,
                index,
                rebuild=rebuild,
                strict=strict,
                form=form,
                keep_going=keep_going,
                progress=progress,
            )
    else:
        report = build_index(
            paths, index, rebuild=rebuild, strict=strict, form=form, keep_going=keep_going
        )
    stdout.print(
        f"索引 {report.index_dir} を更新しました: "
        f"ファイル 追加{report.files_added}・置換{report.files_replaced}・"
        f"変更なし{report.files_skipped}・なくなったファイル{report.files_removed}、シート {report.sheets_indexed}件を索引"
        f"（削除{report.sheets_removed}件、合計{report.sheets_total}件、"
        f"{report.seconds:.1f}秒）",
        markup=False,
        highlight=False,
    )
    for failure in report.failed:
        stderr.print(f"警告: 索引に入れなかったファイル: {failure}", markup=False, highlight=False)
    if report.warnings:
        stderr.print(
            f"警告: 読み取りの警告が{report.warnings}件あります"
            "（`evalsearch parse PATH --format table` で確認できます）。",
            markup=False,
            highlight=False,
        )


def _check_choice(value: str | None, choices: Sequence[str], param: str) -> None:
    if value is not None and value not in choices:
        raise typer.BadParameter(
            f"「{value}」は選べません。次のいずれかを指定してください: {'、'.join(choices)}",
            param_hint=param,
        )


def _parse_answers(values: list[str] | None) -> dict[str, str]:
    from evalsearch.parse.form import item_options

    answers: dict[str, str] = {}
    for value in values or ():
        label, separator, answer = value.partition("=")
        label, answer = label.strip(), answer.strip()
        if not separator or not label or not answer:
            raise typer.BadParameter(
                f"{value}: 「項目=回答」の形で指定してください（例: オ=ある）。",
                param_hint="--answer",
            )
        if label in ITEM_LABELS:  # the 根室 form's items; other forms' are checked by the index
            _check_choice(answer, item_options(label), "--answer")
        answers[label] = answer
    return answers


@app.command("search", cls=JapaneseCommand)
@reports_errors
def search_command(
    query: Annotated[
        list[str],
        typer.Argument(
            help='検索語（複数の語は空白で区切って並べる）。OR・NOT・"語句"・オ:統合 も使える',
            show_default=False,
        ),
    ],
    index: IndexDirOption = None,
    field: Annotated[
        str | None,
        typer.Option(
            "--field",
            help="この項目だけを検索: ア〜カ・①〜⑧・見直し・動向・活動・意図・事業名・回答 など、"
            "または共通の分類（受益者負担・統合・民間活用 など、どの様式でも当たる項目）",
        ),
    ] = None,
    year: Annotated[
        int | None,
        typer.Option("--year", help="年度で絞り込む（例: 2023）" + YEAR_HELP, parser=_fiscal_year),
    ] = None,
    municipality: Annotated[
        str | None, typer.Option("--municipality", help="自治体で絞り込む（例: 大船渡市）")
    ] = None,
    department: Annotated[
        str | None, typer.Option("--department", help="主管課で絞り込む（例: 総合政策室）")
    ] = None,
    decision: Annotated[
        str | None,
        typer.Option("--decision", help="今後の方向性で絞り込む（例: 見直しのうえで継続）"),
    ] = None,
    measure: Annotated[
        str | None, typer.Option("--measure", help="見直しの内容で絞り込む（例: 統合・振替）")
    ] = None,
    answer: Annotated[
        list[str] | None,
        typer.Option("--answer", help="ア〜カの回答で絞り込む（例: オ=ある）。複数指定可"),
    ] = None,
    include_unresolved: Annotated[
        bool,
        typer.Option(
            "--include-unresolved",
            help="--answer で、回答がダンプから確定しないが候補に含むシートも加える",
        ),
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="表示する件数")] = 10,
    no_synonyms: Annotated[
        bool, typer.Option("--no-synonyms", help="同義語（子供↔児童 など）を使わずに検索する")
    ] = False,
    output_format: Annotated[
        TableJsonCsv, typer.Option("--format", help="出力形式: table（一覧表）/ json / csv")
    ] = TableJsonCsv.table,
    bom: BomOption = False,
) -> None:
    """索引を検索し、該当箇所を項目名つきで表示する。"""
    from evalsearch.parse.form import DIRECTION_DECISIONS, DIRECTION_MEASURES

    _check_choice(decision, DIRECTION_DECISIONS, "--decision")
    _check_choice(measure, DIRECTION_MEASURES, "--measure")
    answers = _parse_answers(answer)
    with _open(index) as ix:
        _check_choice(field, [*ix.passage_labels(), *concepts()], "--field")
        for label in answers:
            _check_choice(label, ix.answer_labels(), "--answer")
        result = ix.search(
            " ".join(query),
            field=field,
            year=year,
            municipality=municipality,
            department=department,
            decision=decision,
            measure=measure,
            answers=answers,
            include_unresolved=include_unresolved,
            limit=limit,
            synonyms=not no_synonyms,
        )
    if output_format is TableJsonCsv.json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    elif output_format is TableJsonCsv.csv:
        from evalsearch.csvout import search_csv

        typer.echo(search_csv(result, bom=bom), nl=False)
    else:
        from evalsearch.display import search_table

        stdout.print(search_table(result))


@app.command("show", cls=JapaneseCommand)
@reports_errors
def show_command(
    project: Annotated[
        str, typer.Argument(help="事業番号（例: 12276）または ID（例: 2023-12276）")
    ],
    year: Annotated[
        int | None,
        typer.Option(
            "--year", help="年度（既定: 索引にある最新の年度）" + YEAR_HELP, parser=_fiscal_year
        ),
    ] = None,
    index: IndexDirOption = None,
) -> None:
    """1件のシートを、すべての記述とともに表示する。"""
    from evalsearch.display import sheet_view
    from evalsearch.history import summary_line

    with _open(index) as ix:
        found = ix.records_of(project, year=year)
        sheet = found[0]
        history = ix.history(sheet.key.rpartition("/")[0] + "/" + sheet.project_no)
    others = [record.fiscal_year for record in found[1:]] if year is None else []
    stdout.print(sheet_view(sheet, others), highlight=False)
    line = summary_line(history, sheet.fiscal_year)
    if line:
        stdout.print(
            f"\n{line}（`evalsearch history {sheet.project_no}` で詳しく）", highlight=False
        )


class TableJsonMd(StrEnum):
    table = "table"
    json = "json"
    md = "md"


@app.command("history", cls=JapaneseCommand)
@reports_errors
def history_command(
    project: Annotated[str, typer.Argument(help="事業番号（例: 12276）または ID（2023-12276）")],
    output_format: Annotated[
        TableJsonMd, typer.Option("--format", help="出力形式: table（端末）/ json / md")
    ] = TableJsonMd.table,
    index: IndexDirOption = None,
) -> None:
    """事業の年度ごとの評価と、前年度からの記述の変化（同文・数値のみ・一部修正・改稿）を表示する。"""
    with _open(index) as ix:
        history = ix.history(project)
    if output_format is TableJsonMd.json:
        typer.echo(json.dumps(history.to_dict(), ensure_ascii=False, indent=2))
    elif output_format is TableJsonMd.md:
        from evalsearch.report import history_markdown

        typer.echo(history_markdown(history), nl=False)
    else:
        from evalsearch.display import history_renderable

        stdout.print(history_renderable(history), highlight=False)


@app.command("changes", cls=JapaneseCommand)
@reports_errors
def changes_command(
    year: Annotated[
        int,
        typer.Option("--year", help="比べる年度" + YEAR_HELP, parser=_fiscal_year),
    ],
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="端末に表示するシートの数（上から）")
    ] = 50,
    output_format: Annotated[
        TableJsonCsv, typer.Option("--format", help="出力形式: table（端末）/ json / csv")
    ] = TableJsonCsv.table,
    index: IndexDirOption = None,
    bom: BomOption = False,
) -> None:
    """その年度の全シートを前年度と比べ、写しの評価・古い数値の引用・方向性の変化を先に並べる。"""
    with _open(index) as ix:
        report = ix.changes(year)
    if output_format is TableJsonCsv.json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    elif output_format is TableJsonCsv.csv:
        from evalsearch.csvout import changes_csv

        typer.echo(changes_csv(report, bom=bom), nl=False)
    else:
        from evalsearch.display import changes_renderable

        stdout.print(changes_renderable(report, limit=limit), highlight=False)


# --- similar / candidates / report ----------------------------------------------------------


@app.command("similar", cls=JapaneseCommand)
@reports_errors
def similar_command(
    project: Annotated[str, typer.Argument(help="事業番号（例: 12276）または ID（2023-12276）")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="表示する件数")] = 10,
    same_year: Annotated[
        bool | None,
        typer.Option(
            "--same-year/--any-year",
            help="同じ年度のシートとだけ比べる／同じ事業の他年度も含めて全年度と比べる"
            "（既定: 全年度と比べ、同じ事業の他年度は除く）",
            show_default=False,
        ),
    ] = None,
    year: Annotated[
        int | None,
        typer.Option(
            "--year", help="PROJECT の年度（既定: 最新の年度）" + YEAR_HELP, parser=_fiscal_year
        ),
    ] = None,
    other_municipalities: Annotated[
        bool,
        typer.Option(
            "--other-municipalities",
            help="他の自治体のシートとだけ比べる（同じような事業を他市はどう行い、どう説明したか）",
        ),
    ] = False,
    output_format: Annotated[
        TableJson, typer.Option("--format", help="出力形式: table（一覧表）/ json")
    ] = TableJson.table,
    index: IndexDirOption = None,
) -> None:
    """PROJECT に記述が似ている事業を、共通語と対応する記述つきで表示する。"""
    from evalsearch.similar import YearScope

    scope = {
        None: YearScope.OTHER_PROJECTS,
        True: YearScope.SAME_YEAR,
        False: YearScope.ANY_YEAR,
    }[same_year]
    with _open(index) as ix:
        result = ix.similar(
            project,
            limit=limit,
            years=scope,
            year=year,
            other_municipalities=other_municipalities,
        )
    if output_format is TableJson.json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    from evalsearch.display import similar_view

    stdout.print(similar_view(result))


@app.command("candidates", cls=JapaneseCommand)
@reports_errors
def candidates_command(
    year: Annotated[
        int | None,
        typer.Option("--year", help="この年度のシートだけを見る" + YEAR_HELP, parser=_fiscal_year),
    ] = None,
    municipality: Annotated[
        str | None,
        typer.Option("--municipality", help="この自治体のシートだけを見る（例: 大船渡市）"),
    ] = None,
    min_score: Annotated[
        float,
        typer.Option("--min-score", min=0.0, max=1.0, help="この値以上のスコアの組み合わせを出す"),
    ] = 0.15,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="出力する組み合わせの数（上位から）")
    ] = 50,
    output_format: Annotated[
        TableJsonCsv, typer.Option("--format", help="出力形式: table（一覧表）/ json / csv")
    ] = TableJsonCsv.table,
    index: IndexDirOption = None,
    bom: BomOption = False,
) -> None:
    """統合・振替を検討すべき事業の組み合わせを、理由つきでスコアの高い順に出す。"""
    with _open(index) as ix:
        result = ix.candidates(
            year=year, municipality=municipality, min_score=min_score, limit=limit
        )
    if output_format is TableJsonCsv.json:
        for piece in result.iter_json():
            typer.echo(piece, nl=False)
    elif output_format is TableJsonCsv.csv:
        from evalsearch.csvout import pairs_csv

        typer.echo(pairs_csv(result.pairs, result.clusters, bom=bom), nl=False)
    else:
        from evalsearch.display import candidates_view

        stdout.print(candidates_view(result, total=result.total))


@app.command("report", cls=JapaneseCommand)
@reports_errors
def report_command(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="出力ファイル（.html / .md / .csv で形式を選ぶ）")
    ],
    project: Annotated[
        str | None, typer.Option("--project", help="この事業と類似事業の比較表を作る")
    ] = None,
    candidates: Annotated[
        bool, typer.Option("--candidates", help="統合・振替候補の報告書を作る")
    ] = False,
    changes: Annotated[
        bool, typer.Option("--changes", help="--year の年度の前年度からの変化の報告書を作る")
    ] = False,
    year: Annotated[
        int | None,
        typer.Option(
            "--year", help="対象年度（--project では事業の年度）" + YEAR_HELP, parser=_fiscal_year
        ),
    ] = None,
    municipality: Annotated[
        str | None,
        typer.Option("--municipality", help="--candidates でこの自治体のシートだけを見る"),
    ] = None,
    min_score: Annotated[
        float, typer.Option("--min-score", min=0.0, max=1.0, help="--candidates で載せる最低スコア")
    ] = 0.15,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="--project で載せる類似事業の数")
    ] = 10,
    index: IndexDirOption = None,
) -> None:
    """委員会で読める報告書（HTML・Markdown・CSV）を書き出す。"""
    from evalsearch.report import (
        build_candidates_report,
        build_project_report,
        output_format,
        write_changes_report,
        write_report,
    )

    if (project is not None) + candidates + changes != 1:
        raise typer.BadParameter(
            "--project P・--candidates・--changes のどれか 1 つを指定してください。",
            param_hint="--project",
        )
    if changes and year is None:
        raise typer.BadParameter(
            "--changes には --year で年度を指定してください。", param_hint="--year"
        )
    try:
        output_format(out)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--out") from None
    with _open(index) as ix:
        if changes and year is not None:
            path = write_changes_report(ix.changes(year), out)
        elif project is not None:
            path = write_report(build_project_report(ix, project, year=year, limit=limit), out)
        else:
            report = build_candidates_report(
                ix, year=year, municipality=municipality, min_score=min_score
            )
            path = write_report(report, out)
    stdout.print(f"報告書を書き出しました: {path.resolve()}", markup=False, highlight=False)


# --- forms -----------------------------------------------------------------------------------

forms_app = typer.Typer(
    cls=JapaneseGroup,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.add_typer(forms_app, name="forms")


@forms_app.callback(invoke_without_command=True)
@reports_errors
def forms_command(context: typer.Context) -> None:
    """様式プロファイル（市ごとの評価シートの様式）を一覧し、確かめる。

    付属の様式と、環境変数 EVALSEARCH_FORMS のディレクトリの様式を一覧する。
    """
    if context.invoked_subcommand is not None:
        return
    from evalsearch.forms import list_profiles

    for profile in list_profiles():
        reader = "テキストダンプ" if profile.reader == "text_dump" else "表（.xlsx・.csv）"
        stdout.print(
            f"{profile.id}\t{profile.municipality}\t{profile.name}（{reader}、設問 "
            f"{'・'.join(item.key for item in profile.items)}）\t{profile.source}",
            markup=False,
            highlight=False,
        )


@forms_app.command("check", cls=JapaneseCommand)
@reports_errors
def forms_check_command(
    file: Annotated[Path, typer.Argument(help="確かめる様式プロファイル（.toml）")],
) -> None:
    """様式プロファイルを確かめる。誤りがあればキーと行を示して終了コード 1。"""
    from evalsearch.forms import check_profile

    profile = check_profile(file)
    stdout.print(
        f"{file}: 様式「{profile.id}」（{profile.municipality}）は正しく読めます"
        f"（設問 {len(profile.items)}、記述 {len(profile.passages)}）。",
        markup=False,
        highlight=False,
    )


def main() -> None:
    app(prog_name="evalsearch")


if __name__ == "__main__":
    main()
