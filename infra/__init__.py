"""Reusable Pulumi components that deploy a LangGraph server to Kubernetes."""
