"""cnntune's version: a leaf module, so that any module can read it without importing the
package root (which re-exports the estimators, and so would close an import cycle)."""

__version__ = "0.1.0"
