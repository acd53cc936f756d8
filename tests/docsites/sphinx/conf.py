# A small Sphinx project for the docs plugin's tests: built-in theme, no extensions, no network.
project = "Kelpie Handbook"
author = "Kelpie Fixture Authors"
copyright = "2025, Kelpie Fixture Authors"
release = "1.0"
language = "en"

extensions: list[str] = []
root_doc = "index"
exclude_patterns: list[str] = []

html_theme = "alabaster"
html_theme_options = {
    "description": "Tooling for tidal kelp farms",
    "extra_nav_links": {"Issue tracker": "https://github.com/example/kelpie/issues"},
}
html_static_path: list[str] = []
