// Package spec parses and validates Kubernetes v1.Pod manifests (YAML or
// JSON), and the workloads that hold a pod template, into podbox's plain
// configuration, [sandbox.PodConfig]. It does no
// I/O beyond reading the manifest.
//
// Decoding is strict: an unknown field, a field in the wrong case or a key
// given twice is an error. Then every field that is set is checked against
// an allow-list of the fields podbox honours; anything else is refused with
// its path ("spec.containers[0].volumeDevices: not supported by podbox"),
// never silently ignored. Then a list of small checks validates the values.
// All problems are reported at once, one per line (see [Errors]); each is a
// [*FieldError] that wraps [ErrUnsupported] or [ErrInvalid].
//
// # What podbox does with the fields it accepts
//
//   - metadata: name (required, a DNS-1123 label), namespace (default
//     "default"; only reported and given to metadata.namespace field refs),
//     labels, annotations. creationTimestamp, uid, resourceVersion and
//     generation are read-only output of whoever stored the pod: accepted
//     and ignored.
//   - status is output (kubectl get -o yaml, podbox get pod -o yaml):
//     accepted and ignored, so that such output loads again.
//   - containers and initContainers: image, command, args, env, workingDir, ports, volumeMounts, resources,
//     securityContext (runAsUser, runAsGroup, runAsNonRoot,
//     readOnlyRootFilesystem, privileged, allowPrivilegeEscalation,
//     capabilities, seccompProfile), stdin, tty, and restartPolicy Always on an
//     init container (a native sidecar).
//   - livenessProbe, readinessProbe and startupProbe (exec, httpGet with
//     scheme, host, path, port by number or name and httpHeaders, tcpSocket,
//     grpc; the kubelet's timing fields) and lifecycle (postStart and
//     preStop: exec, httpGet or sleep; stopSignal, which the API allows
//     only with spec.os.name) on app containers and native sidecars,
//     checked as the API server checks them. A port named in a probe or
//     hook must be one of the container's TCP ports (the kubelet would
//     fail every try; podbox says so at once).
//   - env valueFrom (fieldRef, resourceFieldRef, configMapKeyRef,
//     secretKeyRef), envFrom, and configMap, secret, projected and
//     downwardAPI volumes: ParseAll reads the ConfigMaps and Secrets given
//     beside the pods (several documents, or a v1 List) and resolves every
//     reference into the configuration (env values, volume files); a
//     missing one that is not optional is an error naming its field.
//   - imagePullPolicy is checked and kept (ContainerConfig.ImagePullPolicy):
//     Always, IfNotPresent or Never, empty meaning Kubernetes' default
//     (Always for ":latest" or no tag, else IfNotPresent), which
//     sandbox.PullImages applies.
//   - resources: limits.memory is the container's memory limit (bytes,
//     rounded up); limits.cpu is a CFS quota and requests.cpu (defaulting to
//     the limit) the container's cpu weight, as the kubelet sets them.
//     requests.memory is accepted and checked (not negative, not above the
//     limit) but not used: podbox does no scheduling.
//     spec.resources (pod-level resources) limits.memory is the pod's memory
//     quota; without it the sandbox derives the quota from the containers'
//     limits the way the kubelet does.
//   - spec: restartPolicy (default Always), terminationGracePeriodSeconds
//     (nil: the sandbox's default, 30 s), hostNetwork, shareProcessNamespace,
//     hostname, hostAliases, dnsPolicy (default ClusterFirst; with no cluster
//     DNS, ClusterFirst and ClusterFirstWithHostNet use the host's resolver
//     like Default), dnsConfig, securityContext.runAsUser and runAsGroup
//     (defaults for every container), securityContext.seccompProfile (the
//     default for every container; RuntimeDefault when neither sets one) and
//     securityContext.sysctls (namespaced
//     ones only), volumes (hostPath with its type, emptyDir on disk or
//     Memory with sizeLimit).
//   - hostUsers: false (a user namespace; not with hostNetwork).
//   - activeDeadlineSeconds; a container's terminationMessagePath and
//     terminationMessagePolicy (defaulted as the API server does),
//     restartPolicy (overriding the pod's) and restartPolicyRules, checked
//     with the sandbox's own rules (sandbox.ContainerRules); pod-level
//     spec.resources cpu as the pod cgroup's quota and weight.
//   - Fields that only matter to a cluster (scheduling, service accounts,
//     readinessGates, resizePolicy, extended resources,
//     automountServiceAccountToken or enableServiceLinks true) are
//     [ErrIgnored]: ParseWith returns them as one warning line per pod, or
//     with Options.Strict as errors.
//   - Workloads (apps/v1 Deployment, ReplicaSet, StatefulSet, DaemonSet;
//     batch/v1 Job, CronJob) give the pod of their template, named
//     "<name>-pod"; their field paths are the workload's
//     ("spec.template.spec.containers[0].image"). A Job's backoffLimit is
//     the configuration's BackoffLimit.
//
// Defaults follow Kubernetes: restartPolicy Always, namespace "default",
// port protocol TCP, dnsPolicy ClusterFirst; env order is kept.
package spec
