"""The report: every study of perfmodel for a few models and machines, as Markdown, HTML and JSON.

`build.build_report` computes (JSON-able data plus plots), `document.blocks` lays the data out as
tables, `markdown.render`/`html.render` write them, `write.write_report` puts the files in a folder.
"""
