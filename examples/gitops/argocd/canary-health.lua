-- Argo CD health of a petrel.dev Canary, from its status.
-- Healthy: promoted or initialised, nothing to do. Progressing: a rollout is moving (or the controller
-- has not seen the latest spec yet). Suspended: paused by spec.suspend or held at a manual gate.
-- Degraded: rolled back, or the spec is invalid.
local hs = {}

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function say(state, message)
  hs.status = state
  hs.message = message
  return hs
end

if obj.spec ~= nil and obj.spec.suspend == true then
  return say("Suspended", "Canary is suspended (spec.suspend: true)")
end

local status = obj.status
if status == nil or status.phase == nil then
  return say("Progressing", "Waiting for Petrel to initialise the Canary")
end

local invalid = condition(status, "InvalidSpec")
if invalid ~= nil and invalid.status == "True" then
  return say("Degraded", "Invalid spec: " .. (invalid.message or invalid.reason or "see the Canary's events"))
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  return say("Progressing", "Waiting for Petrel to observe generation " .. generation)
end

local phase = status.phase
local weight = status.canaryWeight or 0
if phase == "Succeeded" then
  return say("Healthy", "Canary analysis completed successfully, the new version is promoted")
elseif phase == "Initialized" then
  return say("Healthy", "Canary is initialised; the primary serves all traffic")
elseif phase == "Failed" then
  local promoted = condition(status, "Promoted")
  local why = (promoted and promoted.message) or "see the Canary's status.history and events"
  return say("Degraded", "Canary analysis failed, the new version was rolled back: " .. why)
elseif phase == "Waiting" then
  return say("Suspended", "Waiting for approval to start the rollout (confirm-rollout)")
elseif phase == "WaitingPromotion" then
  return say("Suspended", "Waiting for approval to promote (confirm-promotion) at weight " .. weight)
elseif phase == "Progressing" then
  return say("Progressing", "Canary analysis in progress, weight " .. weight .. "%")
elseif phase == "Initializing" or phase == "Promoting" or phase == "Finalising" then
  return say("Progressing", "Canary is " .. phase)
elseif phase == "Terminating" then
  return say("Progressing", "Canary is being deleted; routing is being restored")
elseif phase == "Terminated" then
  return say("Healthy", "Canary was deleted and routing restored")
end
return say("Unknown", "Unknown Canary phase " .. tostring(phase))
