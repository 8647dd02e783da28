"""langgraph-k8s as installed: the components (`langgraph_k8s.infra`) and the server they deploy (`langgraph_k8s.app`).

    from langgraph_k8s.infra import LangGraphService, PostgresCheckpointStore

In the source repository the same packages are the top-level `infra/` and `app/` folders; the wheel maps them
under this name so they cannot collide with a consumer project's own `infra/` or `app/` folder.
"""
