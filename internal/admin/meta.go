package admin

import (
	"errors"
	"io"
	"net/http"
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
