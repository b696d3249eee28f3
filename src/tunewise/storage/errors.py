"""Errors the store raises; each message says what to do next."""


class StorageError(RuntimeError):
    """The store cannot be used as asked."""


class SchemaVersionError(StorageError):
    """The store was written by a tunewise with another schema version."""


class StudyNotFoundError(StorageError):
    """No study of that name exists in the store."""


class StudyMismatchError(StorageError):
    """An existing study was created with another space or optimizer."""
