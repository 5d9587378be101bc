// Package sequence holds Node-RED's sequence palette: split, join, sort
// and batch. They build and read msg.parts as Node-RED does, so that a
// split's sequence joins again in Runnel's join, in a switch with its
// sequence rules, or in Node-RED's own nodes after a round trip.
//
// Nodes that hold messages over time (join, sort, batch) bound what they
// hold and, when a deploy replaces them or the flows stop, send what they
// hold instead of dropping it as Node-RED does (see each type's help).
package sequence
