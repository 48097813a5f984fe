"""Cyclic garbage is collected on the GUI thread only (a collection in a worker thread that frees Qt objects
can deadlock against the GUI thread): see bpstudio/gui/gc_policy.py."""

import gc
import threading
import weakref

import pytest

pytest.importorskip("PySide6")

from bpstudio.gui.gc_policy import GuiThreadCollector


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_a_worker_thread_allocating_never_collects_and_the_gui_thread_does(qapp):
    collector = GuiThreadCollector()  # (the session's fixture has one too; a second changes nothing)
    try:
        assert not gc.isenabled()
        gc.collect()
        cycle = Node()
        alive = weakref.ref(cycle)
        del cycle

        kept = []

        def allocate():  # containers kept alive: far past the youngest generation's threshold
            kept.extend([] for _ in range(20 * gc.get_threshold()[0]))

        worker = threading.Thread(target=allocate)
        worker.start()
        worker.join()
        assert alive() is not None  # the worker's allocations collected nothing
        assert gc.get_count()[0] > gc.get_threshold()[0]
        freed = collector.collect_due()
        assert freed >= 1 and alive() is None
    finally:
        collector.uninstall()
    assert not gc.isenabled()  # (the session's collector is still installed)


def test_uninstalling_gives_automatic_collection_back(qapp):
    was = gc.isenabled()
    gc.enable()
    try:
        collector = GuiThreadCollector()
        assert not gc.isenabled()
        collector.uninstall()
        assert gc.isenabled()
    finally:
        gc.enable() if was else gc.disable()
