package admin

import (
	"net/http"
	"strings"
)

// routeDoc describes a route for the generated OpenAPI document.
type routeDoc struct {
	operationID string
	summary     string
	tag         string
	// request names a component schema for the JSON body ("" for none).
	request string
	// responses maps status codes to a component schema name ("" for no body).
	responses map[int]string
	// query lists query parameters.
	query []queryParam
}

type queryParam struct {
	name, typ, description string
}

const errSchema = "ErrorDescriptionResponse"

func errs(codes ...int) map[int]string {
	m := map[int]string{}
	for _, c := range codes {
		m[c] = errSchema
	}
	return m
}

func with(m map[int]string, code int, schema string) map[int]string {
	m[code] = schema
	return m
}

// routeTable is the single source for routing and for GET /openapi.
func (s *Server) routeTable() []*route {
	invocationErrs := func() map[int]string { return errs(400, 404, 409, 501, 503) }
	deploymentQuery := queryParam{"deployment", "string", "Deployment to continue on: 'latest', 'keep' or a deployment id."}
	table := []*route{
		{method: http.MethodGet, pattern: "health", handle: s.health, doc: routeDoc{
			operationID: "health", summary: "Health check", tag: "health", responses: map[int]string{200: ""}}},
		{method: http.MethodGet, pattern: "version", handle: s.version, doc: routeDoc{
			operationID: "version", summary: "Server version and supported admin API versions", tag: "version",
			responses: map[int]string{200: "VersionInformation"}}},
		{method: http.MethodGet, pattern: "openapi", handle: s.adminOpenAPI, doc: routeDoc{
			operationID: "openapi_spec", summary: "This OpenAPI document", tag: "openapi", responses: map[int]string{200: ""}}},
		{method: http.MethodGet, pattern: "cluster-health", handle: s.clusterHealth, doc: routeDoc{
			operationID: "cluster_health", summary: "Cluster name and metadata cluster members", tag: "cluster_health",
			responses: with(errs(500, 503), 200, "ClusterHealthResponse")}},
		{method: http.MethodGet, pattern: "cluster", handle: s.clusterStatus, doc: routeDoc{
			operationID: "cluster_status", summary: "Cluster status (extension; absent from Restate)", tag: "cluster_health",
			responses: with(errs(404, 500), 200, "")}},
		{method: http.MethodPost, pattern: "partitions/{partition}/snapshot", handle: s.createSnapshot, doc: routeDoc{
			operationID: "create_partition_snapshot", summary: "Snapshot a partition to the snapshot repository now (extension; restatectl snapshots create)", tag: "snapshots",
			responses: with(errs(400, 404, 503), 200, "")}},
		{method: http.MethodGet, pattern: "partitions/{partition}/snapshots", handle: s.listSnapshots, doc: routeDoc{
			operationID: "list_partition_snapshots", summary: "The snapshots of a partition in the snapshot repository (extension)", tag: "snapshots",
			responses: with(errs(400, 404, 503), 200, "")}},
		{method: http.MethodPost, pattern: "query", handle: s.query, doc: routeDoc{
			operationID: "query", summary: "SQL introspection", tag: "introspection", request: "QueryRequest",
			responses: with(errs(400, 501), 200, "")}},

		{method: http.MethodGet, pattern: "deployments", handle: s.listDeployments, doc: routeDoc{
			operationID: "list_deployments", summary: "List deployments", tag: "deployment",
			responses: map[int]string{200: "ListDeploymentsResponse"}}},
		{method: http.MethodPost, pattern: "deployments", handle: s.registerDeployment, doc: routeDoc{
			operationID: "create_deployment", summary: "Register a deployment: discovers its services and registers them", tag: "deployment",
			request: "RegisterDeploymentRequest", responses: with(errs(400, 409, 500), 201, "RegisterDeploymentResponse")}},
		{method: http.MethodGet, pattern: "deployments/{deployment}", handle: s.getDeployment, doc: routeDoc{
			operationID: "get_deployment", summary: "Get a deployment with its services", tag: "deployment",
			responses: with(errs(400, 404), 200, "DetailedDeploymentResponse")}},
		{method: http.MethodDelete, pattern: "deployments/{deployment}", handle: s.deleteDeployment, doc: routeDoc{
			operationID: "delete_deployment", summary: "Delete a deployment (only with force=true)", tag: "deployment",
			query:     []queryParam{{"force", "boolean", "Must be true: only forced deletion is supported. It can break in-flight invocations."}},
			responses: with(errs(400, 404, 501), 202, "")}},
		{method: http.MethodPut, pattern: "deployments/{deployment}", handle: s.updateDeployment, doc: routeDoc{
			operationID: "update_deployment", summary: "Re-discover a deployment, optionally at a new address or with new headers", tag: "deployment",
			request: "UpdateDeploymentRequest", responses: with(errs(400, 404, 409, 500), 200, "DetailedDeploymentResponse")}},
		{method: http.MethodPatch, pattern: "deployments/{deployment}", handle: s.updateDeployment, doc: routeDoc{
			operationID: "update_deployment_patch", summary: "Same as PUT", tag: "deployment",
			request: "UpdateDeploymentRequest", responses: with(errs(400, 404, 409, 500), 200, "DetailedDeploymentResponse")}},

		{method: http.MethodGet, pattern: "services", handle: s.listServices, doc: routeDoc{
			operationID: "list_services", summary: "List services (latest revisions)", tag: "service",
			responses: map[int]string{200: "ListServicesResponse"}}},
		{method: http.MethodGet, pattern: "services/{service}", handle: s.getService, doc: routeDoc{
			operationID: "get_service", summary: "Get a service", tag: "service",
			responses: with(errs(404), 200, "ServiceMetadata")}},
		{method: http.MethodPatch, pattern: "services/{service}", handle: s.modifyService, doc: routeDoc{
			operationID: "modify_service", summary: "Change a service's visibility, retention or timeouts", tag: "service",
			request: "ModifyServiceRequest", responses: with(errs(400, 404), 200, "ServiceMetadata")}},
		{method: http.MethodGet, pattern: "services/{service}/openapi", handle: s.serviceOpenAPI, doc: routeDoc{
			operationID: "get_service_openapi", summary: "OpenAPI 3.1 description of the service's ingress calls", tag: "service",
			responses: with(errs(404), 200, "")}},
		{method: http.MethodPost, pattern: "services/{service}/state", handle: s.modifyServiceState, doc: routeDoc{
			operationID: "modify_service_state", summary: "Replace the state of one virtual object or workflow key", tag: "service",
			request: "ModifyServiceStateRequest", responses: with(errs(400, 404, 409, 501, 503), 202, "")}},
		{method: http.MethodGet, pattern: "services/{service}/handlers", handle: s.listHandlers, doc: routeDoc{
			operationID: "list_service_handlers", summary: "List a service's handlers", tag: "service_handler",
			responses: with(errs(404), 200, "ListServiceHandlersResponse")}},
		{method: http.MethodGet, pattern: "services/{service}/handlers/{handler}", handle: s.getHandler, doc: routeDoc{
			operationID: "get_service_handler", summary: "Get a handler", tag: "service_handler",
			responses: with(errs(404), 200, "HandlerMetadata")}},

		{method: http.MethodDelete, pattern: "invocations/{invocation_id}", handle: s.deleteInvocation, doc: routeDoc{
			operationID: "delete_invocation", summary: "Cancel, kill or purge an invocation (deprecated)", tag: "invocation",
			query:     []queryParam{{"mode", "string", "cancel (default), kill or purge"}},
			responses: with(invocationErrs(), 202, "")}},
		{method: http.MethodPatch, pattern: "invocations/{invocation_id}/cancel", handle: s.cancelInvocation, doc: routeDoc{
			operationID: "cancel_invocation", summary: "Cancel an invocation", tag: "invocation",
			responses: with(with(invocationErrs(), 200, ""), 202, "")}},
		{method: http.MethodPatch, pattern: "invocations/{invocation_id}/kill", handle: s.killInvocation, doc: routeDoc{
			operationID: "kill_invocation", summary: "Kill an invocation", tag: "invocation",
			responses: with(invocationErrs(), 200, "")}},
		{method: http.MethodPatch, pattern: "invocations/{invocation_id}/purge", handle: s.purgeInvocation, doc: routeDoc{
			operationID: "purge_invocation", summary: "Purge a completed invocation", tag: "invocation",
			responses: with(invocationErrs(), 200, "")}},
		{method: http.MethodPatch, pattern: "invocations/{invocation_id}/purge-journal", handle: s.purgeJournal, doc: routeDoc{
			operationID: "purge_journal", summary: "Purge the journal of a completed invocation", tag: "invocation",
			responses: with(invocationErrs(), 200, "")}},
		{method: http.MethodPatch, pattern: "invocations/{invocation_id}/restart-as-new", handle: s.restartAsNew, doc: routeDoc{
			operationID: "restart_as_new_invocation", summary: "Restart a completed invocation as a new one", tag: "invocation",
			query:     []queryParam{{"from", "integer", "Last journal entry index to copy; 0 or absent restarts from the input."}, deploymentQuery},
			responses: with(with(with(with(invocationErrs(), 410, errSchema), 422, errSchema), 425, errSchema), 200, "RestartAsNewInvocationResponse")}},
		{method: http.MethodPatch, pattern: "invocations/{invocation_id}/resume", handle: s.resumeInvocation, doc: routeDoc{
			operationID: "resume_invocation", summary: "Resume a paused or suspended invocation", tag: "invocation",
			query:     []queryParam{deploymentQuery},
			responses: with(with(invocationErrs(), 425, errSchema), 200, "")}},
		{method: http.MethodPatch, pattern: "invocations/{invocation_id}/pause", handle: s.pauseInvocation, doc: routeDoc{
			operationID: "pause_invocation", summary: "Pause a running invocation", tag: "invocation",
			responses: with(with(invocationErrs(), 200, ""), 202, "")}},
	}
	for _, rt := range table {
		rt.segs = strings.Split(rt.pattern, "/")
	}
	return table
}
