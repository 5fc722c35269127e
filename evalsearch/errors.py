"""The exception tree. Every message is Japanese, names the file and sheet, and says the fix."""

from __future__ import annotations


def rebuild_hint(directory: object) -> str:
    """The command that fixes a missing, outdated or damaged index at ``directory``."""
    return f"`evalsearch index PATH... --index {directory} --rebuild` で索引を作り直してください。"


class EvalSearchError(Exception):
    """Base of every error evalsearch reports to the user (CLI exit code 1)."""


class ParseError(EvalSearchError):
    """A dump file or one of its sheets cannot be read as an evaluation sheet."""

    def __init__(self, message: str, *, file: str | None = None, sheet: int | None = None):
        self.file = file
        self.sheet = sheet
        where = []
        if file is not None:
            where.append(f"{file}")
        if sheet is not None:
            where.append(f"シート{sheet + 1}")
        prefix = " ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class DuplicateRecordError(ParseError):
    """Two sheets carry the same id (年度-事業番号)."""


class StrictModeError(ParseError):
    """A warning was raised while ``--strict`` asks for warnings to be errors."""


class IndexNotFoundError(EvalSearchError):
    """No index exists at the given directory."""


class IndexVersionError(EvalSearchError):
    """The index was built by another schema or Sudachi dictionary version: rebuild it."""


class IndexCorruptError(EvalSearchError):
    """The index directory exists but cannot be read."""


class ProjectNotFoundError(EvalSearchError):
    """No sheet matches the requested project number or id."""


def project_not_found(project: str, year: int | None = None) -> ProjectNotFoundError:
    when = f"{year}年度の" if year is not None else ""
    return ProjectNotFoundError(
        f"{when}事業 {project} は索引にありません。事業番号（例: 12276）または ID"
        "（例: 2023-12276）を指定してください（`evalsearch search` で探せます）。"
    )


class AmbiguousProjectError(EvalSearchError):
    """A project reference matches sheets of several municipalities."""


class IndexLockedError(EvalSearchError):
    """Another ``evalsearch index`` run is writing the same index."""


class QuerySyntaxError(EvalSearchError):
    """The search query cannot be parsed."""


class NotFittedError(EvalSearchError):
    """The similarity model has not been built for this index."""


class FormProfileError(EvalSearchError):
    """A form profile (TOML) cannot be read or says something invalid; names the key and line."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        self.file = file
        self.line = line
        where = f"{file}" if file is not None else ""
        if line is not None:
            where = f"{where} {line} 行目" if where else f"{line} 行目"
        super().__init__(f"{where}: {message}" if where else message)


def os_reason(error: OSError) -> str:
    """Why an operating-system call failed, in Japanese (the system's words only for an error
    not listed here, after a Japanese lead)."""
    import errno

    reasons = {
        errno.EACCES: "権限がありません",
        errno.EPERM: "権限がありません",
        errno.EROFS: "読み取り専用の場所です",
        errno.ENOSPC: "ディスクの空きがありません",
        errno.ENOENT: "見つかりません",
        errno.EISDIR: "ディレクトリです",
        errno.ENOTDIR: "途中にディレクトリでないもの（ファイル）があります",
        errno.EEXIST: "同じ名前のファイルがあり、ディレクトリを作れません",
        errno.ENAMETOOLONG: "名前が長すぎます",
        errno.EDQUOT: "ディスクの割り当て（クォータ）を超えました",
    }
    known = reasons.get(error.errno or 0)
    return known or f"システムのエラーです（{error.strerror or error}）"


def os_error(error: OSError, path: object) -> EvalSearchError:
    """An operating-system error (read-only, permission, disk full …) as a Japanese message."""
    reason = os_reason(error)
    return EvalSearchError(
        f"{path}: {reason}。場所や権限を確かめるか、別の場所（--index など）を指定してください。"
    )


class ParseErrors(ParseError):
    """Dump files that could not be read, each with its own ParseError (``errors``).

    Raised after every other file was read, so that one run names every bad file at once.
    """

    def __init__(self, errors: list[ParseError] | tuple[ParseError, ...]):
        self.errors = tuple(errors)
        if len(self.errors) == 1:
            message = str(self.errors[0])
        else:
            message = (
                f"{len(self.errors)}個のファイルを読めませんでした。"
                "それぞれ直すか、読み込む対象から除いてください:\n"
                + "\n".join(f"  {error}" for error in self.errors)
            )
        super().__init__(message)
        if len(self.errors) == 1:
            self.file, self.sheet = self.errors[0].file, self.errors[0].sheet
