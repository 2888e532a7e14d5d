package admin

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/restatego/restate/internal/clusterapi"
)

func (s *Server) health(w http.ResponseWriter, _ *http.Request, _ params) error {
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) version(w http.ResponseWriter, _ *http.Request, _ params) error {
	resp := versionResponse{
		Version:            s.opts.Version,
		MinAdminAPIVersion: MinAdminAPIVersion,
		MaxAdminAPIVersion: MaxAdminAPIVersion,
		Features:           map[string]bool{},
	}
	if s.opts.IngressEndpoint != "" {
		ep := s.opts.IngressEndpoint
		resp.IngressEndpoint = &ep
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type clusterHealthResponse struct {
	ClusterName           string                 `json:"cluster_name"`
	MetadataClusterHealth *metadataClusterHealth `json:"metadata_cluster_health"`
}

type metadataClusterHealth struct {
	Members []uint32 `json:"members"`
}

func (s *Server) clusterHealth(w http.ResponseWriter, r *http.Request, _ params) error {
	resp := clusterHealthResponse{ClusterName: s.opts.ClusterName}
	if s.opts.Cluster != nil {
		h, err := s.opts.Cluster.ClusterHealth(r.Context())
		if errors.Is(err, ErrNotProvisioned) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "The cluster does not seem to be provisioned yet. Try again later.")
			return nil
		}
		if err != nil {
			return err
		}
		resp.ClusterName = h.ClusterName
		if h.MetadataMembers != nil {
			resp.MetadataClusterHealth = &metadataClusterHealth{Members: h.MetadataMembers}
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) clusterStatus(w http.ResponseWriter, r *http.Request, _ params) error {
	if s.opts.Cluster == nil {
		w.WriteHeader(http.StatusNotFound)
		return nil
	}
	status, err := s.opts.Cluster.ClusterStatus(r.Context())
	if errors.Is(err, ErrNoClusterStatus) {
		w.WriteHeader(http.StatusNotFound)
		return nil
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, status)
	return nil
}

func (s *Server) query(w http.ResponseWriter, r *http.Request, _ params) error {
	if s.opts.Query == nil {
		return errorf(http.StatusNotImplemented, "SQL introspection (POST /query) is not available on this server")
	}
	s.opts.Query.ServeHTTP(w, r)
	return nil
}

func (s *Server) snapshotPartition(p params) (uint16, error) {
	if s.opts.Snapshots == nil {
		return 0, errorf(http.StatusNotImplemented, "partition snapshots are not available on this server")
	}
	raw := p["partition"]
	id, err := strconv.ParseUint(raw, 10, 16)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "invalid partition id '%s': expected a number between 0 and 65535", raw)
	}
	return uint16(id), nil
}

func (s *Server) createSnapshot(w http.ResponseWriter, r *http.Request, p params) error {
	id, err := s.snapshotPartition(p)
	if err != nil {
		return err
	}
	opts, err := clusterapi.ParseSnapshotOptions(r.URL.Query())
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	out, err := s.opts.Snapshots.CreateSnapshot(r.Context(), id, opts)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listSnapshots(w http.ResponseWriter, r *http.Request, p params) error {
	id, err := s.snapshotPartition(p)
	if err != nil {
		return err
	}
	out, err := s.opts.Snapshots.ListSnapshots(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
