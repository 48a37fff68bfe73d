"""Imported only by multiprocessing's forkserver, as a preload module: the import makes the forkserver die
with the language server that started it, even when that server dies without running any code (a crash,
SIGKILL). The workers it forks die with it in turn (`jobs` gives them the same request). Without this the
forkserver and its workers, which hold each other's pipes open, would live on as orphans.
"""

from kimi_lsp.processes import die_with_parent

die_with_parent()
