package defense

import (
	"context"
	"fmt"
	"strings"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// Loss is an objective's loss on one batch.
type Loss struct {
	// Total is the scalar that is minimised; it is differentiable with
	// respect to the model's parameters.
	Total *autograd.Var
	// Terms are its named parts for logs ("ce_clean", "l_p", ...), with
	// "loss" the value of Total.
	Terms map[string]float64
	// Logits are the clean images' logits [N,K] in training mode, from
	// which the training accuracy is counted.
	Logits *autograd.Var
	// Labels are the true classes of the images of Logits.
	Labels []int
}

// Step is one mini-batch handed to an objective.
type Step struct {
	// Ctx is passed to attacks. The training loop hands in a context that
	// is never cancelled, so a step always runs to completion: cancellation
	// is honoured between steps, where the state is consistent.
	Ctx   context.Context
	Model nn.Classifier
	// X holds the clean images, pixels in [0,1], [N,C,H,W] float32; Y their
	// classes.
	X *tensor.Tensor
	Y []int
	// Mode is the forward mode of the loss terms: training, with this
	// step's dropout source. Adversarial examples are always generated in
	// evaluation mode.
	Mode nn.Mode
	// Seed seeds this step's attack randomness.
	Seed uint64
	// Update differentiates a loss with respect to the model's trainable
	// parameters and applies one optimiser step. It refuses (with an error
	// wrapping train.ErrNonFinite) a loss or gradient that is NaN or infinite,
	// leaving the parameters untouched.
	Update func(*Loss) error
}

// Result reports what an objective did with a batch.
type Result struct {
	// Loss and Terms are those of the step's first update.
	Loss  float64
	Terms map[string]float64
	// Correct counts the clean images the model classified correctly in
	// the first update's forward pass (training mode).
	Correct int
	// Updates is the number of optimiser steps taken (1 except for
	// two-step and arp-iou).
	Updates int
}

// Objective is a training objective: it turns a batch into one or more
// parameter updates.
type Objective interface {
	// Name is the --defense name ("none", "adv", "arp", ...).
	Name() string
	// Settings describes the objective's parameters for model.json.
	Settings() map[string]any
	// Step computes the loss on s's batch and updates the model through
	// s.Update.
	Step(s *Step) (*Result, error)
}

// ModelChecker is implemented by objectives that can check, before the
// first step, that a model suits them (its attention layer, say).
type ModelChecker interface {
	CheckModel(m nn.Classifier) error
}

// WeightDecayScaler is implemented by objectives whose loss multiplies
// the weight-decay term: ARP's L = a*L_c + ..., where L_c includes the
// weight decay, scales it by a.
type WeightDecayScaler interface {
	WeightDecayScale() float64
}

// UsesAttention reports whether the objective called name trains the
// model's attention (ARP and its variants): a model trained with it must
// be evaluated with an attack through its attention map as well.
func UsesAttention(name string) bool {
	o, err := New(name, Options{})
	if err != nil {
		return false
	}
	_, ok := o.(*ARP)
	return ok
}

// Names lists the objectives New knows.
func Names() []string { return []string{"none", "adv", "arp", "arp-iou", "two-step", "trades"} }

// Options configures New; each objective uses the fields it needs.
type Options struct {
	// Attack generates the adversarial examples of adv, arp, arp-iou and
	// two-step (default step-ll with eps 0.075, the paper's 0.15 on the
	// [-1,1] scale); TRADES takes its budget, steps and step size.
	Attack attack.Spec
	// A, B, C weigh ARP's L_c, L_r and L_p (default 8, 4, 1 when all are 0).
	A, B, C float64
	// Map is the attention map variant: "gradcam-arp" (default) or
	// "gradcam".
	Map string
	// BatchWide normalises the Grad-CAM gradients over the whole batch (the
	// original code) instead of per image.
	BatchWide bool
	// FirstOrder treats the Grad-CAM channel weights as constants (no
	// double backpropagation).
	FirstOrder bool
	// Layer is the attention layer (default: the model's).
	Layer string
	// MaskFill is the pixel value that replaces the attended region in
	// L_r's masked images. The paper multiplies its [-1,1] inputs by
	// 1-B, which is mid-grey 0.5 on the pixel scale; nil means 0.5.
	MaskFill *float64
	// IoUThreshold and ExtraSteps configure arp-iou (0 means the defaults
	// 0.2 and 4).
	IoUThreshold float64
	ExtraSteps   int
	// Project clips the further Step-LL steps of two-step and arp-iou to
	// the eps-ball around the clean image (off by default: the paper's
	// Step-LL(Step-LL(x)) is not projected).
	Project bool
	// Beta weighs TRADES's KL term (default 6).
	Beta float64
}

// New returns the objective called name.
func New(name string, o Options) (Objective, error) {
	if o.Attack.Name == "" {
		o.Attack.Name = "step-ll"
	}
	if o.Attack.Config.Eps == 0 {
		o.Attack.Config.Eps = DefaultEps
	}
	if name != "none" {
		if err := validateAttack(o.Attack); err != nil {
			return nil, err
		}
	}
	arp := func(samples string) (Objective, error) {
		a := &ARP{A: o.A, B: o.B, C: o.C, Attack: o.Attack, Map: o.Map, BatchWide: o.BatchWide,
			FirstOrder: o.FirstOrder, Layer: o.Layer, Samples: samples, IoUThreshold: o.IoUThreshold,
			ExtraSteps: o.ExtraSteps, Project: o.Project, MaskFill: 0.5}
		if o.MaskFill != nil {
			a.MaskFill = *o.MaskFill
		}
		if a.A == 0 && a.B == 0 && a.C == 0 {
			a.A, a.B, a.C = 8, 4, 1
		}
		if samples == SamplesIoU {
			if a.IoUThreshold == 0 {
				a.IoUThreshold = 0.2
			}
			if a.ExtraSteps == 0 {
				a.ExtraSteps = 4
			}
		}
		if err := a.Validate(); err != nil {
			return nil, err
		}
		return a, nil
	}
	switch name {
	case "none":
		return Standard{}, nil
	case "adv":
		return &Adversarial{Attack: o.Attack}, nil
	case "arp":
		return arp(SamplesSingle)
	case "two-step":
		return arp(SamplesTwoStep)
	case "arp-iou":
		return arp(SamplesIoU)
	case "trades":
		t := &TRADES{Beta: o.Beta, Eps: o.Attack.Config.Eps, Steps: o.Attack.Config.Steps, StepSize: o.Attack.Config.Alpha}
		if t.Beta == 0 {
			t.Beta = 6
		}
		if err := t.Validate(); err != nil {
			return nil, err
		}
		return t, nil
	}
	return nil, fmt.Errorf("unknown defense %q; known: %s", name, strings.Join(Names(), ", "))
}

// countCorrect counts the rows of logits whose argmax is the label.
func countCorrect(logits *autograd.Var, y []int) int {
	n := 0
	for i, p := range autograd.ArgMax(logits, 1) {
		if p == y[i] {
			n++
		}
	}
	return n
}

// apply runs one update with l and returns its result.
func apply(s *Step, l *Loss) (*Result, error) {
	if err := s.Update(l); err != nil {
		return nil, err
	}
	return &Result{Loss: l.Total.Item(), Terms: l.Terms, Correct: countCorrect(l.Logits, l.Labels), Updates: 1}, nil
}

// Standard is plain training: cross-entropy on the clean images.
type Standard struct{}

func (Standard) Name() string             { return "none" }
func (Standard) Settings() map[string]any { return map[string]any{"defense": "none"} }

// Loss is CE(f(x), y).
func (Standard) Loss(m nn.Classifier, x *tensor.Tensor, y []int, mode nn.Mode) (*Loss, error) {
	var l *Loss
	err := autograd.Try(func() {
		logits, _ := m.Forward(autograd.Const(x), mode)
		ce := autograd.CrossEntropy(logits, y, 0)
		l = &Loss{Total: ce, Terms: map[string]float64{"ce_clean": ce.Item(), "loss": ce.Item()}, Logits: logits, Labels: y}
	})
	return l, err
}

func (o Standard) Step(s *Step) (*Result, error) {
	l, err := o.Loss(s.Model, s.X, s.Y, s.Mode)
	if err != nil {
		return nil, err
	}
	return apply(s, l)
}

// Adversarial is adversarial training: CE(f(x), y) + CE(f(x_adv), y) with
// x_adv from Attack, generated with the model in evaluation mode and
// without gradient through the generation.
type Adversarial struct {
	Attack attack.Spec
}

func (o *Adversarial) Name() string { return "adv" }

func (o *Adversarial) Settings() map[string]any {
	s := attackSettings(o.Attack)
	s["defense"] = "adv"
	return s
}

// Loss is CE(f(x), y) + CE(f(x_adv), y).
func (o *Adversarial) Loss(m nn.Classifier, x, xadv *tensor.Tensor, y []int, mode nn.Mode) (*Loss, error) {
	var l *Loss
	err := autograd.Try(func() {
		lx, _ := m.Forward(autograd.Const(x), mode)
		la, _ := m.Forward(autograd.Const(xadv), mode)
		cx := autograd.CrossEntropy(lx, y, 0)
		ca := autograd.CrossEntropy(la, y, 0)
		t := autograd.Add(cx, ca)
		l = &Loss{Total: t, Logits: lx, Labels: y,
			Terms: map[string]float64{"ce_clean": cx.Item(), "ce_adv": ca.Item(), "loss": t.Item()}}
	})
	return l, err
}

func (o *Adversarial) Step(s *Step) (*Result, error) {
	xa, err := perturb(s.Ctx, o.Attack, s.Model, s.X, s.Y, s.Seed)
	if err != nil {
		return nil, err
	}
	l, err := o.Loss(s.Model, s.X, xa, s.Y, s.Mode)
	if err != nil {
		return nil, err
	}
	return apply(s, l)
}
