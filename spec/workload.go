package spec

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	sigsjson "sigs.k8s.io/json"
)

// Workloads run the pod of their template, one replica, as podman kube
// play runs them. The pod is named after the workload, "<name>-pod"
// (podman's name), and gets the template's labels and annotations, the
// labels the workload's controller gives its pods (a Job's job-name, a
// StatefulSet's pod-name and pod-index) and an ownerReference naming the
// workload (shown by podbox get pod).

// workloadKinds are the workloads podbox runs, with their apiVersion.
var workloadKinds = map[string]string{
	"Deployment":  "apps/v1",
	"ReplicaSet":  "apps/v1",
	"StatefulSet": "apps/v1",
	"DaemonSet":   "apps/v1",
	"Job":         "batch/v1",
	"CronJob":     "batch/v1",
}

// newWorkload makes the typed object a workload kind decodes into.
var newWorkload = map[string]func() any{
	"Deployment":  func() any { return &appsv1.Deployment{} },
	"ReplicaSet":  func() any { return &appsv1.ReplicaSet{} },
	"StatefulSet": func() any { return &appsv1.StatefulSet{} },
	"DaemonSet":   func() any { return &appsv1.DaemonSet{} },
	"Job":         func() any { return &batchv1.Job{} },
	"CronJob":     func() any { return &batchv1.CronJob{} },
}

// WorkloadPodSuffix is what a workload's name gets to name its pod.
const WorkloadPodSuffix = "-pod"

var workloadMeta = obj(leaves("name", "generateName", "namespace", "labels", "annotations",
	"creationTimestamp", "uid", "resourceVersion", "generation", "managedFields"))

// What a workload's spec says besides its template: the selector (checked
// against the template's labels), a Job's backoffLimit and
// activeDeadlineSeconds (acted on), and what only a cluster's controllers
// act on (rollouts, replicas beyond one, schedules, history), ignored
// with a warning.
var (
	jobSpec = fields{
		"template":                leaf,
		"selector":                leaf,
		"manualSelector":          leaf,
		"backoffLimit":            leaf,
		"activeDeadlineSeconds":   leaf,
		"parallelism":             ignoredUnless(float64(1)),
		"completions":             ignoredUnless(float64(1)),
		"completionMode":          ignoredUnless("NonIndexed"),
		"ttlSecondsAfterFinished": ignored,
		"backoffLimitPerIndex":    ignored,
		"maxFailedIndexes":        ignored,
		"successPolicy":           ignored,
		"podReplacementPolicy":    ignored,
		"managedBy":               ignored,
		// A suspended Job runs nothing; podbox run would run it.
		"suspend": onlyValue(false),
	}
	workloadSpecs = map[string]fields{
		"Deployment": {"template": leaf, "selector": leaf, "replicas": ignoredUnless(float64(1)),
			"strategy": ignored, "minReadySeconds": ignored, "revisionHistoryLimit": ignored,
			"progressDeadlineSeconds": ignored, "paused": ignored},
		"ReplicaSet": {"template": leaf, "selector": leaf, "replicas": ignoredUnless(float64(1)),
			"minReadySeconds": ignored},
		"StatefulSet": {"template": leaf, "selector": leaf, "replicas": ignoredUnless(float64(1)),
			"serviceName": ignored, "podManagementPolicy": ignored, "updateStrategy": ignored,
			"revisionHistoryLimit": ignored, "minReadySeconds": ignored, "ordinals": ignored,
			"persistentVolumeClaimRetentionPolicy": ignored,
			// Each template is a claim of the pod's, "<name>-<set>-0" as
			// the StatefulSet controller names them: a named local volume.
			// What a provisioner would act on is ignored.
			"volumeClaimTemplates": list(obj(fields{
				"metadata": obj(fields{"name": leaf, "labels": ignored, "annotations": ignored}),
				"spec": obj(fields{
					"accessModes": ignored, "resources": ignored, "storageClassName": ignored,
					"selector": ignored, "volumeAttributesClassName": ignored,
					"volumeMode": onlyValue("Filesystem"),
				}),
				"status": leaf,
			})),
		},
		"DaemonSet": {"template": leaf, "selector": leaf, "updateStrategy": ignored,
			"minReadySeconds": ignored, "revisionHistoryLimit": ignored},
		"Job": jobSpec,
		"CronJob": {
			"jobTemplate": obj(fields{"metadata": workloadMeta, "spec": obj(jobSpec)}),
			// podbox runs the job once, now: the schedule is not acted on.
			"schedule": ignored, "timeZone": ignored, "startingDeadlineSeconds": ignored,
			"concurrencyPolicy": ignored, "successfulJobsHistoryLimit": ignored,
			"failedJobsHistoryLimit": ignored, "suspend": onlyValue(false),
		},
	}
)

// workload is a decoded workload: what its pod is made of.
type workload struct {
	kind, name, namespace string
	uid                   string
	selector              *metav1.LabelSelector
	template              *v1.PodTemplateSpec
	tmplField             string // "spec.template" or "spec.jobTemplate.spec.template"
	job                   *batchv1.JobSpec
	jobName               string
	claims                []string // a StatefulSet's volumeClaimTemplates' names
}

// decodeWorkload decodes a workload strictly and checks its own fields
// (not its template's) against the allow-list above.
func decodeWorkload(kind string, j []byte) (*workload, []error) {
	target := newWorkload[kind]()
	strict, err := sigsjson.UnmarshalStrict(j, target)
	if err != nil {
		return nil, []error{fmt.Errorf("%w: %w", ErrInvalid, err)}
	}
	w := &workload{kind: kind, tmplField: "spec.template"}
	var meta *metav1.ObjectMeta
	switch d := target.(type) {
	case *appsv1.Deployment:
		meta, w.selector, w.template = &d.ObjectMeta, d.Spec.Selector, &d.Spec.Template
	case *appsv1.ReplicaSet:
		meta, w.selector, w.template = &d.ObjectMeta, d.Spec.Selector, &d.Spec.Template
	case *appsv1.StatefulSet:
		meta, w.selector, w.template = &d.ObjectMeta, d.Spec.Selector, &d.Spec.Template
		for _, t := range d.Spec.VolumeClaimTemplates {
			w.claims = append(w.claims, t.Name)
		}
	case *appsv1.DaemonSet:
		meta, w.selector, w.template = &d.ObjectMeta, d.Spec.Selector, &d.Spec.Template
	case *batchv1.Job:
		meta, w.job = &d.ObjectMeta, &d.Spec
	case *batchv1.CronJob:
		meta, w.job = &d.ObjectMeta, &d.Spec.JobTemplate.Spec
		w.tmplField = "spec.jobTemplate.spec.template"
	}
	if w.job != nil {
		w.selector, w.template = w.job.Selector, &w.job.Template
	}
	errs := strictErrors(strict)
	b, _ := json.Marshal(target)
	var m map[string]any
	json.Unmarshal(b, &m)
	allowed := obj(fields{"apiVersion": leaf, "kind": leaf, "metadata": workloadMeta,
		"spec": obj(workloadSpecs[kind]), "status": leaf})
	walk("", m, allowed, &errs)
	named(meta)
	w.name, w.namespace, w.uid = meta.Name, meta.Namespace, string(meta.UID)
	w.jobName = w.name
	if err := nameError("metadata.name", w.name); err != nil {
		errs = append(errs, err)
	} else if err := nameError("metadata.name", w.podName()); err != nil {
		errs = append(errs, invalid("metadata.name", "%q names the pod %q, which is longer than 63 characters", w.name, w.podName()))
	}
	errs = append(errs, w.check()...)
	return w, errs
}

func (w *workload) podName() string { return w.name + WorkloadPodSuffix }

// check is what the API server checks of a workload beside its pod:
// a selector that matches the template's labels, and the restartPolicy
// the kind allows.
func (w *workload) check() []error {
	var errs []error
	tf := w.tmplField
	if w.selector == nil && w.job == nil {
		errs = append(errs, invalid("spec.selector", "is required"))
	}
	if w.selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		switch {
		case err != nil:
			errs = append(errs, invalid("spec.selector", "%s", err))
		case sel.Empty():
			errs = append(errs, invalid("spec.selector", "an empty selector would select every pod"))
		case !sel.Matches(labels.Set(w.template.Labels)):
			errs = append(errs, invalid(tf+".metadata.labels", "the selector %q does not match the template's labels", sel))
		}
	}
	rp := w.template.Spec.RestartPolicy
	switch {
	case w.job != nil && rp != v1.RestartPolicyOnFailure && rp != v1.RestartPolicyNever:
		errs = append(errs, invalid(tf+".spec.restartPolicy", "%q: a Job's pod takes OnFailure or Never", rp))
	case w.job == nil && rp != "" && rp != v1.RestartPolicyAlways:
		errs = append(errs, invalid(tf+".spec.restartPolicy", "%q: a %s's pod takes only Always", rp, w.kind))
	}
	// The claims that are good become volumes of the pod (the others are
	// said here, once).
	claims := w.claims
	w.claims = nil
	for i, c := range claims {
		f := fmt.Sprintf("spec.volumeClaimTemplates[%d].metadata.name", i)
		switch {
		case nameError(f, c) != nil:
			errs = append(errs, nameError(f, c))
		case slices.ContainsFunc(w.template.Spec.Volumes, func(v v1.Volume) bool { return v.Name == c }):
			errs = append(errs, invalid(f, "%q is also a volume of the template", c))
		default:
			w.claims = append(w.claims, c)
		}
	}
	if j := w.job; j != nil {
		if j.BackoffLimit != nil && *j.BackoffLimit < 0 {
			errs = append(errs, invalid("spec.backoffLimit", "%d is negative", *j.BackoffLimit))
		}
		if d := j.ActiveDeadlineSeconds; d != nil && *d <= 0 {
			errs = append(errs, invalid("spec.activeDeadlineSeconds", "%d is not positive", *d))
		}
	}
	return errs
}

// pod is the v1.Pod the workload runs.
func (w *workload) pod() *v1.Pod {
	p := &v1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: *w.template.ObjectMeta.DeepCopy(),
		Spec:       *w.template.Spec.DeepCopy(),
	}
	// The template's own name, namespace and the like are not the pod's.
	p.ObjectMeta = metav1.ObjectMeta{
		Name: w.podName(), Namespace: w.namespace,
		Labels: maps.Clone(p.Labels), Annotations: maps.Clone(p.Annotations),
	}
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	switch w.kind {
	case "Job", "CronJob":
		p.Labels["batch.kubernetes.io/job-name"] = w.jobName
		p.Labels["job-name"] = w.jobName
		// The Job's deadline ends its pod as the pod's own would.
		if d := w.job.ActiveDeadlineSeconds; d != nil {
			if pd := p.Spec.ActiveDeadlineSeconds; pd == nil || *d < *pd {
				v := *d
				p.Spec.ActiveDeadlineSeconds = &v
			}
		}
	case "StatefulSet":
		p.Labels["statefulset.kubernetes.io/pod-name"] = p.Name
		p.Labels["apps.kubernetes.io/pod-index"] = "0"
		for _, c := range w.claims {
			p.Spec.Volumes = append(p.Spec.Volumes, v1.Volume{Name: c, VolumeSource: v1.VolumeSource{
				PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: w.claimName(c)},
			}})
		}
	}
	if p.Spec.RestartPolicy == "" && w.job == nil {
		p.Spec.RestartPolicy = v1.RestartPolicyAlways
	}
	return p
}

// claimName is the claim of a StatefulSet's volumeClaimTemplate for its
// one pod, as its controller names it: "<template>-<set>-0".
func (w *workload) claimName(template string) string { return template + "-" + w.name + "-0" }

// owner is the pod's ownerReference, as podbox get pod shows it.
func (w *workload) owner() metav1.OwnerReference {
	api := workloadKinds[w.kind]
	t := true
	return metav1.OwnerReference{APIVersion: api, Kind: w.kind, Name: w.name,
		UID: types.UID(w.uid), Controller: &t}
}

// templateField maps a field path of the pod to the workload's: the
// pod's metadata and spec are the template's (its name and namespace are
// the workload's own).
func (w *workload) templateField(f string) string {
	switch {
	case f == "metadata.name" || f == "metadata.namespace":
		return f
	case strings.HasPrefix(f, "metadata") || strings.HasPrefix(f, "spec"):
		return w.tmplField + "." + f
	}
	return f
}

// backoffLimit is the Job's, Kubernetes' default 6.
func (w *workload) backoffLimit() int32 {
	if w.job.BackoffLimit != nil {
		return *w.job.BackoffLimit
	}
	return 6
}

// named gives an object that has only a generateName its name, as the API
// server does: the prefix (at most 58 characters) and 5 random ones.
func named(meta *metav1.ObjectMeta) {
	if meta.Name != "" || meta.GenerateName == "" {
		return
	}
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // the API server's
	prefix := meta.GenerateName
	if len(prefix) > 58 {
		prefix = prefix[:58]
	}
	b := []byte(prefix)
	for range 5 {
		b = append(b, alphabet[rand.IntN(len(alphabet))])
	}
	meta.Name = string(b)
}
