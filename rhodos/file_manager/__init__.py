"""The File Manager server: open files, the node's block cache, dirty blocks."""

from rhodos.file_manager.server import FileManager, FileStatistics, FileView

__all__ = ["FileManager", "FileStatistics", "FileView"]
