"""Adapters that let other frameworks use newscite (LangChain)."""
